import { IHeaders, KafkaMessage, Message, Producer } from 'kafkajs';
import type { Pool, PoolClient } from 'pg';
import { InvalidInputError } from '../errors';
import { retry, RetryOptions } from '../retry';

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

/** Where a refused message was read, its bytes and headers, and why (the error's reason and text). */
export function refusedMessage(origin: { topic: string; partition: number }, message: KafkaMessage, err: InvalidInputError): RefusedMessage & { headers?: IHeaders } {
  return {
    topic: origin.topic, partition: origin.partition, offset: message.offset, reason: err.reason, error: err.message,
    key: message.key, value: message.value, headers: message.headers,
  };
}

const RECORD_SQL = `
INSERT INTO dead_letters (consumer_group, source_topic, source_partition, source_offset, reason, error, message_key, payload)
SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[], $7::bytea[], $8::bytea[])
ON CONFLICT DO NOTHING`;

/** NUL is the one character a Postgres text column refuses; an error text may quote one from the input. */
export function storableText(text: string): string {
  return text.replace(/\u0000/g, '\uFFFD');
}

/**
 * Records dead letters in `dead_letters`, one row per origin (topic, partition, offset) and group:
 * a redelivered poison message is recorded once. `db` is a pool or a client inside a transaction.
 */
export async function recordDeadLetters(db: Pick<Pool | PoolClient, 'query'>, consumerGroup: string, letters: readonly RefusedMessage[]): Promise<void> {
  if (letters.length === 0) return;
  await db.query(RECORD_SQL, [
    consumerGroup,
    letters.map((d) => d.topic),
    letters.map((d) => d.partition),
    letters.map((d) => d.offset),
    letters.map((d) => d.reason),
    letters.map((d) => storableText(d.error)),
    letters.map((d) => d.key),
    letters.map((d) => d.value),
  ]);
}

/**
 * Publishes dead letters to the dead-letter topic, acknowledged by all in-sync replicas, retrying
 * passing broker faults; rejects only once retries run out (the caller then must not commit past them).
 */
export async function publishDeadLetters(
  producer: Producer, topic: string, consumerGroup: string, letters: readonly (RefusedMessage & { headers?: IHeaders })[], options: Partial<RetryOptions> = {},
): Promise<void> {
  if (letters.length === 0) return;
  const messages = letters.map((d) => deadLetterMessage({ ...d, consumerGroup }));
  await retry(() => producer.send({ topic, acks: -1, messages }), { retries: 10, ...options });
}
