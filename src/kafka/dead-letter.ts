import { IHeaders, Message } from 'kafkajs';

/** A refused message: where it came from, why, and its original bytes. */
export interface RefusedMessage {
  topic: string;
  partition: number;
  offset: string;
  reason: string;
  error: string;
  key: Buffer | null;
  value: Buffer | null;
}

export interface DeadLetter extends RefusedMessage {
  headers?: IHeaders;
  consumerGroup: string;
}

/**
 * A dead-letter record keeps the original key, value and headers untouched and adds
 * `dlq.*` headers; its key is the origin coordinates, so a redelivered poison message
 * produces a record with the same key (consumers of the dead-letter topic can dedupe on it).
 */
export function deadLetterMessage(dl: DeadLetter): Message {
  return {
    key: `${dl.topic}/${dl.partition}/${dl.offset}`,
    value: dl.value,
    headers: {
      ...(dl.headers ?? {}),
      'dlq.reason': dl.reason,
      'dlq.error': dl.error.slice(0, 2000),
      'dlq.origin.topic': dl.topic,
      'dlq.origin.partition': String(dl.partition),
      'dlq.origin.offset': dl.offset,
      'dlq.origin.key': dl.key ?? Buffer.alloc(0),
      'dlq.consumer.group': dl.consumerGroup,
      'dlq.time': new Date().toISOString(),
    },
  };
}
