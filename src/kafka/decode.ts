import type avro from 'avsc';
import { IHeaders, KafkaMessage } from 'kafkajs';
import { AvroCodec } from '../avro/codec';
import { InvalidInputError } from '../errors';
import { Logger } from '../logging';
import { dependencyError } from '../metrics/operational';
import { retry } from '../retry';
import { RefusedMessage, refusedMessage } from './dead-letter';

export interface DecodeOptions<T> {
  codec: AvroCodec;
  /** The consumer's reader schema; the writer's comes from the registry by the message's schema id. */
  reader: avro.Type;
  log: Logger;
  /** Throws InvalidInputError when the decoded value is not acceptable (e.g. validateCostEvent). */
  validate?: (value: T) => void;
  /** Attempts after the first while the registry is unreachable (default 10, about 30 s in all). */
  retries?: number;
}

export type Decoded<T> = { value: T; deadLetter?: undefined } | { value?: undefined; deadLetter: RefusedMessage & { headers?: IHeaders } };

/**
 * The one way a consumer reads a message: Avro-decode it (retrying while the schema registry is
 * unreachable) and validate it. A message that is wrong in itself (InvalidInputError: not Avro,
 * unknown schema, failed validation) comes back as the dead letter to write, with its origin and
 * reason; any other failure (the registry still down after the retries) is thrown, so the
 * consumer stops without committing past the message.
 */
export async function decodeOrDeadLetter<T>(origin: { topic: string; partition: number }, message: KafkaMessage, o: DecodeOptions<T>): Promise<Decoded<T>> {
  try {
    const { value } = await retry(() => o.codec.decode<T>(message.value, o.reader), {
      retries: o.retries ?? 10,
      onRetry: (err, attempt) => {
        dependencyError('schema_registry');
        o.log.warn({ err, attempt }, 'schema registry unavailable; retrying');
      },
    });
    o.validate?.(value);
    return { value };
  } catch (err) {
    if (err instanceof InvalidInputError) return { deadLetter: refusedMessage(origin, message, err) };
    throw err;
  }
}

/**
 * As decodeOrDeadLetter without a promise, for a message whose writer schema the codec already
 * holds (every message after the first of each schema id); undefined if the registry must be
 * asked first, then the caller takes decodeOrDeadLetter.
 */
export function decodeKnownOrDeadLetter<T>(origin: { topic: string; partition: number }, message: KafkaMessage, o: DecodeOptions<T>): Decoded<T> | undefined {
  try {
    const known = o.codec.decodeKnown<T>(message.value, o.reader);
    if (!known) return undefined;
    o.validate?.(known.value);
    return { value: known.value };
  } catch (err) {
    if (err instanceof InvalidInputError) return { deadLetter: refusedMessage(origin, message, err) };
    throw err;
  }
}
