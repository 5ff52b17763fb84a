/**
 * kafkajs (2.2.4) decodes every fetched record's timestamp and offset through its 64-bit Long
 * class: the batch's first value parsed from a string, a Long added, the sum printed back, and the
 * timestamp delta read as a Long too — several objects per record, about a fifth of what the storage
 * consumer allocated per event once its own decoding was flat. Before kafkajs loads, its record
 * decoder is replaced by one that does the same sums in doubles, exact below 2^53 (every real offset
 * and millisecond timestamp), and returns the same record. A record outside that (headers, varints
 * longer than these fields need, values past 2^53, a malformed length) is handed to kafkajs's own
 * decoder from its start, so it decodes, or fails, exactly as before.
 *
 * Imported first with linear-grouping.ts. Under a module system other than Node's (Jest's) it
 * changes nothing.
 */
import { kafkajsModulePath } from './kafkajs-module';

interface KafkaDecoder {
  buffer: Buffer;
  offset: number;
}

interface BatchContext {
  firstOffset: string;
  firstTimestamp: string;
  magicByte: number;
  isControlBatch?: boolean;
  timestampType: number;
  maxTimestamp: string;
}

type RecordDecoder = (decoder: KafkaDecoder, batchContext?: BatchContext) => unknown;

const LOG_APPEND_TIME = 1;
const NOT_FAST = -0.5; // no varint decodes to a non-integer

let original: RecordDecoder | undefined;

/** A zigzag varint of at most `maxBytes` bytes at `at` as [value, next offset]; NOT_FAST when longer or past `end`. */
function varint(buf: Buffer, at: number, end: number, maxBytes: number, out: Float64Array): number {
  let n = 0;
  let mul = 1;
  for (let i = 0; i < maxBytes; i++) {
    if (at >= end) return NOT_FAST;
    const b = buf[at++];
    n += (b & 0x7f) * mul;
    if (b < 0x80) {
      out[0] = at;
      return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
    }
    mul *= 128;
  }
  return NOT_FAST;
}

const next = new Float64Array(1);
let lastTimestamp = NaN;
let lastTimestampText = '';

export function decodeRecord(decoder: KafkaDecoder, batchContext: BatchContext = {} as BatchContext): unknown {
  const buf = decoder.buffer;
  const start = decoder.offset;
  const end = buf.length;
  const slow = () => {
    decoder.offset = start;
    // Not installed (kafkajs loaded first, or Jest's module registry): kafkajs's own module is the original.
    original ??= require('kafkajs/src/protocol/recordBatch/record/v0/decoder') as RecordDecoder;
    return original(decoder, batchContext);
  };
  const { firstOffset, firstTimestamp, magicByte, isControlBatch = false, timestampType, maxTimestamp } = batchContext;
  if (start >= end) return slow();
  const attributes = buf.readInt8(start);
  // kafkajs reads 32-bit varints with 32-bit shifts: up to 4 bytes (28 bits) the result is the same.
  const timestampDelta = varint(buf, start + 1, end, 7, next);
  if (timestampDelta === NOT_FAST) return slow();
  const offsetDelta = varint(buf, next[0], end, 4, next);
  if (offsetDelta === NOT_FAST) return slow();
  let timestamp: string;
  if (timestampType === LOG_APPEND_TIME && maxTimestamp) timestamp = maxTimestamp;
  else {
    const first = Number(firstTimestamp);
    const t = first + timestampDelta;
    if (!Number.isSafeInteger(t) || !Number.isSafeInteger(first)) return slow();
    // Records of one producer batch mostly share a timestamp; printing a 13-digit double is not cheap.
    if (t !== lastTimestamp) {
      lastTimestamp = t;
      lastTimestampText = String(t);
    }
    timestamp = lastTimestampText;
  }
  const base = Number(firstOffset);
  const o = base + offsetDelta;
  if (!Number.isSafeInteger(base) || !Number.isSafeInteger(o)) return slow();
  const keyLength = varint(buf, next[0], end, 4, next);
  if (keyLength === NOT_FAST || keyLength < -1 || next[0] + Math.max(0, keyLength) > end) return slow();
  const keyStart = next[0];
  const key = keyLength === -1 ? null : buf.subarray(keyStart, keyStart + keyLength);
  const valueLength = varint(buf, keyStart + Math.max(0, keyLength), end, 4, next);
  if (valueLength === NOT_FAST || valueLength < -1 || next[0] + Math.max(0, valueLength) > end) return slow();
  const valueStart = next[0];
  const value = valueLength === -1 ? null : buf.subarray(valueStart, valueStart + valueLength);
  const headerCount = varint(buf, valueStart + Math.max(0, valueLength), end, 4, next);
  if (headerCount !== 0 && headerCount !== -1) return slow();
  decoder.offset = next[0];
  return {
    magicByte,
    attributes,
    timestamp,
    offset: String(o),
    key,
    value,
    headers: {},
    isControlRecord: isControlBatch,
    batchContext,
  };
}

/** True once kafkajs's record batches decode their records with decodeRecord above. */
export function recordDecodingInstalled(): boolean {
  const record = kafkajsModulePath('protocol/recordBatch/record/v0/decoder');
  return record !== undefined && require.cache[record]?.exports === decodeRecord && original !== undefined;
}

function install(): void {
  const record = kafkajsModulePath('protocol/recordBatch/record/v0/decoder');
  const batch = kafkajsModulePath('protocol/recordBatch/v0/decoder');
  // Too late once the batch decoder holds the original (kafkajs was loaded first): leave it.
  if (!record || !batch || !require.cache || require.cache[batch]) return;
  require(record);
  const loaded = require.cache[record];
  if (loaded && typeof loaded.exports === 'function') {
    original = loaded.exports as RecordDecoder;
    loaded.exports = decodeRecord;
  }
}

install();
