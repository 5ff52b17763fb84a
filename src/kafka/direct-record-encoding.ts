/**
 * kafkajs (2.2.4, its last release) encodes a produce request one record at a time: a spread of
 * the message, a `new Encoder()` (a zero-filled 512-byte buffer), one small Buffer per varint and
 * BigInt arithmetic for every timestamp delta, then copies each record into the batch, the batch
 * into the partition and the partition into the request. This module is the same Produce request
 * (v3, which v4–v7 reuse) written straight into one buffer: the same bytes, byte for byte
 * (tests/unit/kafka-direct-record-encoding.test.ts compares it with kafkajs's encoder, every codec).
 *
 * Only the encoding changes. Producer id, epoch and each partition's first sequence arrive from
 * kafkajs's own idempotent-producer bookkeeping exactly as before, and the batch header is written
 * by kafkajs's Encoder from them. A record outside the common shape (a key, value or header that
 * is neither a string nor a Buffer, a timestamp delta beyond ±2^30 ms) is encoded by kafkajs's own
 * Record, so it is the same bytes, or the same error, as before.
 *
 * Installed on kafkajs's Produce request definition (imported by linear-grouping.ts, which every
 * entry point imports first); unlike the grouping, this holds under Jest's module system too.
 */
/* eslint-disable @typescript-eslint/no-require-imports */

interface KafkajsEncoder {
  buf: Buffer;
  offset: number;
  readonly buffer: Buffer;
  size(): number;
  writeInt16(v: unknown): KafkajsEncoder;
  writeInt32(v: unknown): KafkajsEncoder;
  writeInt64(v: unknown): KafkajsEncoder;
}
type EncoderClass = new (initialSize?: number) => KafkajsEncoder;
interface Codec {
  compress(encoder: KafkajsEncoder): Promise<Buffer>;
}
interface Message {
  key?: unknown;
  value?: unknown;
  headers?: unknown;
  timestamp?: unknown;
}
interface PartitionData {
  partition: number;
  firstSequence?: number;
  messages: Message[];
}
interface TopicData {
  topic: string;
  partitions: PartitionData[];
}
export interface ProduceRequestArgs {
  acks: number;
  timeout: number;
  transactionalId?: string | null;
  producerId?: unknown;
  producerEpoch?: number;
  compression?: number;
  topicData: TopicData[];
}

const Encoder = require('kafkajs/src/protocol/encoder') as EncoderClass;
const Long = require('kafkajs/src/utils/long') as { fromInt(n: number): unknown; fromValue(v: unknown): unknown };
const { Types, lookupCodec, COMPRESSION_CODEC_MASK } = require('kafkajs/src/protocol/message/compression') as {
  Types: { None: number };
  lookupCodec(type: number): Codec | null;
  COMPRESSION_CODEC_MASK: number;
};
const { Produce: PRODUCE_API_KEY } = require('kafkajs/src/protocol/requests/apiKeys') as { Produce: number };
const kafkajsRecord = require('kafkajs/src/protocol/recordBatch/record/v0') as (record: object) => KafkajsEncoder;

const MAGIC_BYTE = 2;
const TRANSACTIONAL_MASK = 16;
/** Partition, batch size, first offset, batch length, leader epoch, magic, CRC: written once the batch is. */
const PARTITION_PREFIX_BYTES = 4 + 4 + 8 + 4 + 4 + 1 + 4;

/** A growing buffer written front to back. */
class Writer {
  buf: Buffer;
  pos = 0;
  constructor(capacity: number) {
    this.buf = Buffer.allocUnsafe(Math.max(capacity, 256));
  }

  ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.pos + bytes, this.buf.length * 2));
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }

  bytes(b: Buffer): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos); // TypedArray#set: Buffer#copy without its argument handling
    this.pos += b.length;
  }

  int32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.pos);
    this.pos += 4;
  }

  /** Kafka's STRING: int16 length (−1 for null), UTF-8. */
  string(s: string | null | undefined): void {
    if (s == null) {
      this.ensure(2);
      this.buf.writeInt16BE(-1, this.pos);
      this.pos += 2;
      return;
    }
    const n = Buffer.byteLength(s, 'utf8');
    this.ensure(2 + n);
    this.buf.writeInt16BE(n, this.pos);
    this.buf.write(s, this.pos + 2, n, 'utf8');
    this.pos += 2 + n;
  }

  /** Unsigned LEB128 of a 32-bit value; the caller ensured room. */
  uvarint(z: number): void {
    const buf = this.buf;
    while ((z & 0xffffff80) !== 0) {
      buf[this.pos++] = (z & 0x7f) | 0x80;
      z >>>= 7;
    }
    buf[this.pos++] = z;
  }

  /** Kafka's varint|bytes of a string or Buffer (null: length −1); the caller ensured room. */
  varIntBytes(v: string | Buffer | null | undefined, length: number): void {
    if (v == null) {
      this.buf[this.pos++] = 1; // zig-zag −1
      return;
    }
    this.uvarint(zigZag(length));
    if (typeof v === 'string') this.buf.write(v, this.pos, length, 'utf8');
    else if (length < 48) for (let i = 0; i < length; i++) this.buf[this.pos + i] = v[i];
    else this.buf.set(v, this.pos);
    this.pos += length;
  }
}

const zigZag = (n: number): number => ((n << 1) ^ (n >> 31)) >>> 0;

function uvarintSize(z: number): number {
  let bytes = 1;
  while ((z & 0xffffff80) !== 0) {
    bytes++;
    z >>>= 7;
  }
  return bytes;
}

/** Byte length of a record key, value or header value on the fast path; −2 when kafkajs's Record must encode it. */
function fieldLength(v: unknown, nullable: boolean): number {
  if (v == null) return nullable ? -1 : -2;
  if (typeof v === 'string') return Buffer.byteLength(v, 'utf8');
  if (Buffer.isBuffer(v)) return v.length;
  return -2;
}

const varIntBytesSize = (length: number): number => (length < 0 ? 1 : uvarintSize(zigZag(length)) + length);

const MAX_FAST_DELTA = 0x40000000; // zig-zag of a smaller magnitude fits 32 bits

/** Headers as kafkajs's Record flattens them (arrays become repeated keys); undefined when it must encode them itself. */
function flatHeaders(headers: unknown): { key: string; value: string | Buffer; keyLength: number; valueLength: number }[] | undefined {
  if (headers === null || typeof headers !== 'object') return undefined;
  const out: { key: string; value: string | Buffer; keyLength: number; valueLength: number }[] = [];
  const h = headers as Record<string, unknown>;
  for (const key of Object.keys(h)) {
    const keyLength = Buffer.byteLength(key, 'utf8');
    const values = Array.isArray(h[key]) ? (h[key] as unknown[]) : [h[key]];
    for (const value of values) {
      const valueLength = fieldLength(value, false);
      if (valueLength < 0) return undefined;
      out.push({ key, value: value as string | Buffer, keyLength, valueLength });
    }
  }
  return out;
}

/** One record (Kafka record v0 inside a v2 batch), as kafkajs's Record writes it. */
function writeRecord(w: Writer, message: Message, offsetDelta: number, timestampDelta: number): void {
  const keyLength = fieldLength(message.key, true);
  const valueLength = fieldLength(message.value, true);
  const headers = message.headers === undefined ? NO_HEADERS : flatHeaders(message.headers);
  const fast = keyLength !== -2 && valueLength !== -2 && headers !== undefined
    && Number.isInteger(timestampDelta) && timestampDelta < MAX_FAST_DELTA && timestampDelta >= -MAX_FAST_DELTA;
  if (!fast) {
    w.bytes(kafkajsRecord({ ...message, offsetDelta, timestampDelta }).buffer);
    return;
  }
  const delta = zigZag(timestampDelta);
  const offset = zigZag(offsetDelta);
  let headerBytes = uvarintSize(zigZag(headers.length));
  for (const h of headers) headerBytes += uvarintSize(zigZag(h.keyLength)) + h.keyLength + uvarintSize(zigZag(h.valueLength)) + h.valueLength;
  const body = 1 + uvarintSize(delta) + uvarintSize(offset) + varIntBytesSize(keyLength) + varIntBytesSize(valueLength) + headerBytes;
  w.ensure(5 + body);
  w.uvarint(zigZag(body));
  w.buf[w.pos++] = 0; // attributes
  w.uvarint(delta);
  w.uvarint(offset);
  w.varIntBytes(message.key as string | Buffer | null | undefined, keyLength);
  w.varIntBytes(message.value as string | Buffer | null | undefined, valueLength);
  w.uvarint(zigZag(headers.length));
  for (const h of headers) {
    w.varIntBytes(h.key, h.keyLength);
    w.varIntBytes(h.value, h.valueLength);
  }
}
const NO_HEADERS: never[] = [];

/** The record batch header after the CRC, by kafkajs's Encoder with RecordBatch's own defaults. */
function batchHeader({
  compression = Types.None,
  firstTimestamp = Date.now(),
  maxTimestamp = Date.now(),
  lastOffsetDelta = 0,
  transactional = false,
  producerId = Long.fromValue(-1),
  producerEpoch = 0,
  firstSequence = 0,
}: {
  compression?: number; firstTimestamp?: unknown; maxTimestamp?: unknown; lastOffsetDelta?: number; transactional?: boolean;
  producerId?: unknown; producerEpoch?: number; firstSequence?: number;
}): Buffer {
  const attributes = (compression & COMPRESSION_CODEC_MASK) | (transactional ? TRANSACTIONAL_MASK : 0);
  return new Encoder(64)
    .writeInt16(attributes)
    .writeInt32(lastOffsetDelta)
    .writeInt64(firstTimestamp)
    .writeInt64(maxTimestamp)
    .writeInt64(producerId)
    .writeInt16(producerEpoch)
    .writeInt32(firstSequence).buffer;
}

/** A kafkajs Encoder over bytes already written (what codecs and the request framing take). */
function asEncoder(buf: Buffer, length: number): KafkajsEncoder {
  const e = new Encoder(0);
  e.buf = buf;
  e.offset = length;
  return e;
}

/** Room for a request: each partition's messages at the size of its first one, with slack; the writer grows past it if need be. */
function estimateBytes(topicData: TopicData[]): number {
  let n = 64;
  for (const t of topicData) {
    n += 8 + t.topic.length;
    for (const p of t.partitions) {
      const m = p.messages[0];
      const each = m ? 32 + (Buffer.isBuffer(m.value) ? m.value.length : 64) + (Buffer.isBuffer(m.key) ? m.key.length : 32) : 0;
      n += 96 + Math.ceil(each * 1.25) * p.messages.length;
    }
  }
  return n;
}

/**
 * CRC-32C (Castagnoli), eight bytes a step (slicing-by-8): the same checksum as kafkajs's
 * byte-at-a-time crc32C (the tests compare them) in about 40 % of its time.
 */
const CRC_TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) for (let k = 1; k < 8; k++) t[k * 256 + n] = (t[(k - 1) * 256 + n] >>> 8) ^ t[t[(k - 1) * 256 + n] & 0xff];
  return t;
})();

export function crc32c(buf: Buffer): number {
  const t = CRC_TABLES;
  let crc = -1;
  let i = 0;
  const end8 = buf.length - (buf.length % 8);
  for (; i < end8; i += 8) {
    const a = crc ^ (buf[i] | (buf[i + 1] << 8) | (buf[i + 2] << 16) | (buf[i + 3] << 24));
    crc = t[1792 + (a & 0xff)] ^ t[1536 + ((a >>> 8) & 0xff)] ^ t[1280 + ((a >>> 16) & 0xff)] ^ t[1024 + (a >>> 24)]
      ^ t[768 + buf[i + 4]] ^ t[512 + buf[i + 5]] ^ t[256 + buf[i + 6]] ^ t[buf[i + 7]];
  }
  for (; i < buf.length; i++) crc = t[(crc ^ buf[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}

async function writePartition(
  w: Writer, compression: number, transactionalId: string | null,
  producerId: unknown, producerEpoch: number, { partition, messages, firstSequence }: PartitionData,
): Promise<void> {
  const dateNow = Date.now();
  let firstTimestamp: unknown = dateNow;
  let maxTimestamp: unknown = dateNow;
  if (messages.some((m) => m.timestamp != null)) {
    // kafkajs's own order (a default sort, as strings) and choice of first and last
    const timestamps = messages.map((m) => m.timestamp).filter((t) => t != null).sort() as unknown[];
    firstTimestamp = timestamps[0];
    maxTimestamp = timestamps[timestamps.length - 1];
  }
  const header = batchHeader({
    compression, firstTimestamp, maxTimestamp, producerId, producerEpoch, firstSequence,
    transactional: !!transactionalId, lastOffsetDelta: messages.length - 1,
  });

  const start = w.pos;
  w.ensure(PARTITION_PREFIX_BYTES);
  w.pos += PARTITION_PREFIX_BYTES;
  const bodyStart = w.pos;
  w.bytes(header);
  w.int32(messages.length);
  const delta = (m: Message) => (((m.timestamp as number) || dateNow) as number) - (firstTimestamp as number);
  if (compression === Types.None) {
    for (let i = 0; i < messages.length; i++) writeRecord(w, messages[i], i, delta(messages[i]));
  } else {
    const codec = lookupCodec(compression);
    const records = new Writer(estimateBytes([{ topic: '', partitions: [{ partition, messages }] }]));
    for (let i = 0; i < messages.length; i++) writeRecord(records, messages[i], i, delta(messages[i]));
    if (!codec) throw new TypeError("Cannot read properties of null (reading 'compress')");
    const compressed = await codec.compress(asEncoder(records.buf, records.pos));
    if (!Buffer.isBuffer(compressed)) throw new Error('value should be an instance of Buffer');
    w.bytes(compressed);
  }
  const bodyLength = w.pos - bodyStart;
  const buf = w.buf;
  buf.writeInt32BE(partition, start);
  buf.writeInt32BE(8 + 4 + 9 + bodyLength, start + 4); // the RECORDS bytes: first offset, length, the batch
  buf.writeInt32BE(0, start + 8); // first offset 0 (int64)
  buf.writeInt32BE(0, start + 12);
  buf.writeInt32BE(9 + bodyLength, start + 16); // batch length: leader epoch, magic, CRC, body
  buf.writeInt32BE(0, start + 20); // partition leader epoch
  buf.writeInt8(MAGIC_BYTE, start + 24);
  buf.writeUInt32BE(crc32c(buf.subarray(bodyStart, w.pos)), start + 25);
}

/** kafkajs's Produce request v3 (`requests/produce/v3/request.js`), same arguments, same bytes. */
export function produceRequestV3({
  acks,
  timeout,
  transactionalId = null,
  producerId = Long.fromInt(-1),
  producerEpoch = 0,
  compression = Types.None,
  topicData,
}: ProduceRequestArgs) {
  return {
    apiKey: PRODUCE_API_KEY,
    apiVersion: 3,
    apiName: 'Produce',
    expectResponse: () => acks !== 0,
    encode: async (): Promise<KafkajsEncoder> => {
      const w = new Writer(compression === Types.None ? estimateBytes(topicData) : 1024);
      w.string(transactionalId);
      w.ensure(10);
      w.buf.writeInt16BE(acks, w.pos);
      w.buf.writeInt32BE(timeout, w.pos + 2);
      w.buf.writeInt32BE(topicData.length, w.pos + 6);
      w.pos += 10;
      for (const { topic, partitions } of topicData) {
        w.string(topic);
        w.int32(partitions.length);
        for (const data of partitions) await writePartition(w, compression, transactionalId, producerId, producerEpoch, data);
      }
      return asEncoder(w.buf, w.pos);
    },
  };
}

type ProduceProtocol = (args: { version: number }) => ((args: ProduceRequestArgs) => { request: { encode: () => Promise<unknown> } }) | undefined;
const produceRequests = require('kafkajs/src/protocol/requests/produce') as { protocol: ProduceProtocol };
const kafkajsProtocol = produceRequests.protocol;

/**
 * kafkajs looks the Produce definition up on this module object for every request, so the
 * replacement holds however and whenever kafkajs was loaded. Versions 3–7 share v3's encoding:
 * only `encode` changes, the rest (API version, response decoder) is kafkajs's.
 */
const directProtocol: ProduceProtocol = ({ version }) => {
  const build = kafkajsProtocol({ version });
  if (!build || version < 3 || version > 7) return build;
  return (args) => {
    const built = build(args);
    built.request.encode = produceRequestV3(args).encode;
    return built;
  };
};

/** True once kafkajs's producer encodes produce requests with produceRequestV3 above. */
export function directRecordEncodingInstalled(): boolean {
  return produceRequests.protocol === directProtocol;
}

produceRequests.protocol = directProtocol;
