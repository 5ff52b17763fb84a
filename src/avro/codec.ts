import avro from 'avsc';
import { logicalTypes } from './logical-types';
import { DependencyError, InvalidInputError } from '../errors';
import type { Overrides } from '../config';
import { RegistryTarget, registryTarget } from './registry-auth';
import { unreadableBatchMarker } from '../kafka/unreadable-batch';

export type Compatibility = 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FULL' | 'NONE';

const MAGIC_BYTE = 0;
const HEADER_BYTES = 5;

/**
 * Builds an avsc type whose decimals are BigInts. Options are fresh per call: avsc keeps its
 * registry of named types in the options object, and sharing one would clash on names.
 */
export function avroType(schema: object): avro.Type {
  return avro.Type.forSchema(schema as avro.Schema, { logicalTypes });
}

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/**
 * Confluent wire format (magic byte 0, 4-byte big-endian schema id, Avro body) over a
 * Confluent-compatible registry. Subjects follow the topic-name strategy: `<topic>-value`.
 * Readers decode with the writer's schema from the registry and resolve into their own reader
 * schema, so producers may evolve schemas under BACKWARD compatibility.
 */
export class AvroCodec {
  private readonly writerTypes = new Map<number, Promise<avro.Type>>();
  private readonly writerTypesReady = new Map<number, avro.Type>();
  private readonly identicalIds = new WeakMap<avro.Type, Map<number, boolean>>();
  private readonly resolvers = new Map<string, avro.Resolver | null>();

  private readonly target: RegistryTarget;

  /** `registryUrl` may carry credentials (user:pass@); see registry-auth.ts. They are never in messages. */
  constructor(readonly registryUrl: string, overrides: Overrides = {}) {
    this.target = registryTarget(registryUrl, overrides);
  }

  static subjectFor(topic: string): string {
    return `${topic}-value`;
  }

  private async request(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
    let res: Response;
    try {
      res = await fetch(`${this.target.baseUrl}${path}`, {
        method,
        headers: { 'content-type': CONTENT_TYPE, accept: CONTENT_TYPE, ...this.target.headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(5000),
      });
    } catch (err) {
      throw new DependencyError('schema-registry', `unreachable at ${this.target.displayUrl}: ${(err as Error).message}`, { cause: err });
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403) {
      const given = this.target.headers.authorization ? 'refused the credentials' : 'asks for credentials';
      throw new DependencyError('schema-registry', `${method} ${path} at ${this.target.displayUrl} answered ${res.status}: the registry ${given}; set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD_FILE (or user:password@ in SCHEMA_REGISTRY_URL)`, { retriable: false });
    }
    let json: any = text;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      /* non-JSON error body */
    }
    if (res.status >= 500) throw new DependencyError('schema-registry', `${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    return { status: res.status, json };
  }

  /**
   * Sets the subject's compatibility level, then registers the schema; returns its global id.
   * (Some registries keep no configuration for a subject that does not exist yet; the first
   * version needs no check, so it is registered first and the level set right after.)
   */
  async register(topic: string, schema: object, compatibility: Compatibility = 'BACKWARD'): Promise<number> {
    const subject = AvroCodec.subjectFor(topic);
    const exists = (await this.request('GET', `/subjects/${encodeURIComponent(subject)}/versions`)).status === 200;
    if (exists) await this.setCompatibility(subject, compatibility);
    const { status, json } = await this.request('POST', `/subjects/${encodeURIComponent(subject)}/versions`, { schemaType: 'AVRO', schema: JSON.stringify(schema) });
    if (!exists && status === 200) await this.setCompatibility(subject, compatibility);
    if (status === 409) {
      throw new InvalidInputError('schema.incompatible', `schema for ${subject} is not ${compatibility}-compatible with the registered versions: ${JSON.stringify(json)}`);
    }
    if (status !== 200 || typeof json?.id !== 'number') throw new DependencyError('schema-registry', `registering ${subject} answered ${status}: ${JSON.stringify(json)}`, { retriable: false });
    return json.id;
  }

  async setCompatibility(subject: string, compatibility: Compatibility): Promise<void> {
    const { status, json } = await this.request('PUT', `/config/${encodeURIComponent(subject)}`, { compatibility });
    if (status !== 200) throw new DependencyError('schema-registry', `PUT /config/${subject} answered ${status}: ${JSON.stringify(json)}`, { retriable: false });
  }

  async latestSchemaId(topic: string): Promise<number> {
    const subject = AvroCodec.subjectFor(topic);
    const { status, json } = await this.request('GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`);
    if (status !== 200) throw new DependencyError('schema-registry', `no schema registered for ${subject} (${status}); run \`finops topics\``, { retriable: false });
    return json.id;
  }

  /** The writer type for a schema id; an id the registry does not know is invalid input. */
  writerType(id: number): Promise<avro.Type> {
    let pending = this.writerTypes.get(id);
    if (!pending) {
      pending = (async () => {
        const { status, json } = await this.request('GET', `/schemas/ids/${id}`);
        if (status === 404) throw new InvalidInputError('avro.unknown_schema_id', `schema id ${id} is not in the registry`);
        if (status !== 200 || typeof json?.schema !== 'string') throw new DependencyError('schema-registry', `GET /schemas/ids/${id} answered ${status}`);
        if (json.schemaType && json.schemaType !== 'AVRO') throw new InvalidInputError('avro.not_avro', `schema id ${id} is ${json.schemaType}, not Avro`);
        const type = avroType(JSON.parse(json.schema));
        this.writerTypesReady.set(id, type);
        return type;
      })();
      pending.catch(() => this.writerTypes.delete(id));
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
    const known = this.decodeKnown<T>(message, reader);
    if (known) return known;
    const schemaId = message!.readInt32BE(1);
    return this.decodeWith<T>(message!, schemaId, await this.writerType(schemaId), reader);
  }

  /**
   * As decode, without a promise, for a message whose writer schema is already known (after the
   * first message of each schema id, every one); undefined if the registry must be asked first.
   * A consumer decoding thousands of messages a second saves a promise and a microtask each.
   */
  decodeKnown<T>(message: Buffer | null, reader: avro.Type): { schemaId: number; value: T } | undefined {
    if (!message || message.length < HEADER_BYTES) {
      throw new InvalidInputError('avro.too_short', `message of ${message?.length ?? 0} bytes is shorter than the 5-byte Confluent header`);
    }
    if (message[0] !== MAGIC_BYTE) {
      const unreadable = unreadableBatchMarker(message);
      if (unreadable) throw new InvalidInputError('kafka.unreadable_batch', unreadable);
      throw new InvalidInputError('avro.bad_magic_byte', `first byte is ${message[0]}, not the Confluent magic byte 0`);
    }
    const schemaId = message.readInt32BE(1);
    const writer = this.writerTypesReady.get(schemaId);
    return writer ? this.decodeWith<T>(message, schemaId, writer, reader) : undefined;
  }

  /**
   * True when `message` is framed with a registered schema id whose schema is `reader` itself, so a
   * reader written for that schema may read its body field by field (consumers/storage/ledger-row-reader.ts).
   */
  isWrittenWith(message: Buffer | null, reader: avro.Type): boolean {
    if (!message || message.length < HEADER_BYTES || message[0] !== MAGIC_BYTE) return false;
    const schemaId = message.readInt32BE(1);
    let ids = this.identicalIds.get(reader);
    if (!ids) this.identicalIds.set(reader, (ids = new Map()));
    let same = ids.get(schemaId);
    if (same === undefined) {
      const writer = this.writerTypesReady.get(schemaId);
      if (!writer) return false;
      same = writer.equals(reader);
      ids.set(schemaId, same);
    }
    return same;
  }

  private decodeWith<T>(message: Buffer, schemaId: number, writer: avro.Type, reader: avro.Type): { schemaId: number; value: T } {
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
