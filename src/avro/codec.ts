import avro from 'avsc';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { logicalTypes } from './decimal-type';
import { DependencyError, InvalidInputError } from '../errors';

export type Compatibility = 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FULL' | 'NONE';

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

/** avsc options shared by every type this codec builds, so decimals are BigInts everywhere. */
export const avroOptions: Partial<avro.ForSchemaOptions> = { logicalTypes };

export function avroType(schema: object): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, avroOptions);
}

function httpStatus(err: unknown): number | undefined {
  const e = err as { status?: number; response?: { status?: () => number } } | undefined;
  if (typeof e?.status === 'number') return e.status;
  if (typeof e?.response?.status === 'function') return e.response.status();
  return undefined;
}

/**
 * Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro body) over a
 * Confluent-compatible registry. Subjects follow the topic-name strategy: `<topic>-value`.
 * Readers decode with the writer's schema from the registry and resolve into their own reader
 * schema, so producers may evolve schemas under BACKWARD compatibility.
 */
export class AvroCodec {
  readonly registry: SchemaRegistry;
  private readonly writerTypes = new Map<number, Promise<avro.Type>>();
  private readonly resolvers = new Map<string, avro.Resolver | null>();

  constructor(readonly registryUrl: string) {
    this.registry = new SchemaRegistry(
      { host: registryUrl, retry: { retries: 3, maxRetryTimeInSecs: 2 } },
      { [SchemaType.AVRO]: avroOptions },
    );
  }

  static subjectFor(topic: string): string {
    return `${topic}-value`;
  }

  /** Sets the subject's compatibility level, then registers the schema; returns its global id. */
  async register(topic: string, schema: object, compatibility: Compatibility = 'BACKWARD'): Promise<number> {
    const subject = AvroCodec.subjectFor(topic);
    await this.setCompatibility(subject, compatibility);
    try {
      const { id } = await this.registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject });
      return id;
    } catch (err) {
      const status = httpStatus(err);
      if (status === 409 || /compatib/i.test(String((err as Error).message))) {
        throw new InvalidInputError('schema.incompatible', `schema for ${subject} is not ${compatibility}-compatible with the registered versions: ${(err as Error).message}`, { cause: err });
      }
      throw new DependencyError('schema-registry', `registering ${subject} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async setCompatibility(subject: string, compatibility: Compatibility): Promise<void> {
    const res = await fetch(`${this.registryUrl}/config/${encodeURIComponent(subject)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ compatibility }),
    }).catch((err: unknown) => {
      throw new DependencyError('schema-registry', `unreachable at ${this.registryUrl}: ${(err as Error).message}`, { cause: err });
    });
    if (!res.ok) throw new DependencyError('schema-registry', `PUT /config/${subject} answered ${res.status}: ${await res.text()}`, { retriable: res.status >= 500 });
  }

  /** The writer type for a schema id; an id the registry does not know is invalid input. */
  writerType(id: number): Promise<avro.Type> {
    let pending = this.writerTypes.get(id);
    if (!pending) {
      pending = this.registry.getSchema(id).then(
        (schema) => schema as unknown as avro.Type,
        (err: unknown) => {
          this.writerTypes.delete(id);
          const status = httpStatus(err);
          if (status === 404 || /not found|40403/i.test(String((err as Error)?.message))) {
            throw new InvalidInputError('avro.unknown_schema_id', `schema id ${id} is not in the registry`, { cause: err });
          }
          throw new DependencyError('schema-registry', `fetching schema ${id} failed: ${(err as Error)?.message}`, { cause: err });
        },
      );
      this.writerTypes.set(id, pending);
    }
    return pending;
  }

  /** Frames an Avro body with the Confluent header. */
  static frame(schemaId: number, body: Buffer): Buffer {
    const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
    out.writeUInt8(MAGIC_BYTE, 0);
    out.writeInt32BE(schemaId, 1);
    body.copy(out, HEADER_BYTES);
    return out;
  }

  /** Encodes with a locally known type and its registered id (no registry round trip). */
  static encode(schemaId: number, type: avro.Type, value: unknown): Buffer {
    return AvroCodec.frame(schemaId, type.toBuffer(value));
  }

  /**
   * Decodes a Confluent-framed message into the reader type. Throws InvalidInputError for
   * anything wrong with the bytes, DependencyError (retriable) if the registry cannot be reached.
   */
  async decode<T>(message: Buffer | null, reader: avro.Type): Promise<{ schemaId: number; value: T }> {
    if (!message || message.length < HEADER_BYTES) {
      throw new InvalidInputError('avro.too_short', `message of ${message?.length ?? 0} bytes is shorter than the 5-byte Confluent header`);
    }
    if (message[0] !== MAGIC_BYTE) {
      throw new InvalidInputError('avro.bad_magic_byte', `first byte is ${message[0]}, not the Confluent magic byte 0`);
    }
    const schemaId = message.readInt32BE(1);
    const writer = await this.writerType(schemaId);
    const resolver = this.resolverFor(schemaId, writer, reader);
    try {
      const value = resolver ? reader.fromBuffer(message.subarray(HEADER_BYTES), resolver) : reader.fromBuffer(message.subarray(HEADER_BYTES));
      return { schemaId, value: value as T };
    } catch (err) {
      throw new InvalidInputError('avro.malformed', `body does not decode with schema ${schemaId}: ${(err as Error).message}`, { cause: err });
    }
  }

  private resolverFor(schemaId: number, writer: avro.Type, reader: avro.Type): avro.Resolver | null {
    const key = `${schemaId}:${reader.name ?? reader.typeName}`;
    let resolver = this.resolvers.get(key);
    if (resolver === undefined) {
      if (writer.equals(reader)) {
        resolver = null;
      } else {
        try {
          resolver = reader.createResolver(writer);
        } catch (err) {
          throw new InvalidInputError('avro.incompatible_schema', `writer schema ${schemaId} cannot be read as ${reader.name}: ${(err as Error).message}`, { cause: err });
        }
      }
      this.resolvers.set(key, resolver);
    }
    return resolver;
  }
}
