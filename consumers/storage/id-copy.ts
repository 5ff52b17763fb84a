/**
 * cost_event_ids rows in COPY's binary format: Postgres takes a uuid, a timestamptz and a bigint
 * as they are, where the text format had it parse a timestamp (its costliest input function) and
 * two more values per event. One row is 46 bytes: a field count (3), then each field's length and
 * bytes — the key's 16 bytes, the event time in microseconds since 2000-01-01 UTC, the fingerprint.
 */
export const ID_TUPLE_BYTES = 46;
/** Where a tuple's fingerprint starts, from the tuple's start. */
const FINGERPRINT_AT = 38;
const TIME_AT = 26;
const PG_EPOCH_MS = 946_684_800_000;

/** The stream's signature, flags and header extension length, before the first tuple. */
export const ID_COPY_HEADER = Buffer.from([0x50, 0x47, 0x43, 0x4f, 0x50, 0x59, 0x0a, 0xff, 0x0d, 0x0a, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]);
/** The field count -1 that ends the stream. */
export const ID_COPY_TRAILER = Buffer.from([0xff, 0xff]);

export const ID_COPY_SQL = 'COPY cost_event_ids (event_key, event_time, fingerprint) FROM STDIN (FORMAT binary)';

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x61 + i] = HEX[0x41 + i] = 10 + i;

/**
 * Writes the tuple of `key` (a UUID as Postgres prints it) and `eventTimeMs` at `at`; the caller
 * writes the fingerprint's 8 bytes at the returned position, where the tuple's last field goes.
 */
export function writeIdTuple(out: Buffer, at: number, key: string, eventTimeMs: number): number {
  let q = at + 6;
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) continue;
    const hi = HEX[key.charCodeAt(i) & 0x7f];
    const lo = HEX[key.charCodeAt(++i) & 0x7f];
    if (hi < 0 || lo < 0) throw new Error(`not a UUID: ${JSON.stringify(key)}`);
    out[q++] = (hi << 4) | lo;
  }
  return writeTupleFrame(out, at, eventTimeMs);
}

/** writeIdTuple with the key read from the 36 bytes at `keyAt` of `src`, a canonical UUID (the caller checked). */
export function writeIdTupleOfBytes(out: Buffer, at: number, src: Buffer, keyAt: number, eventTimeMs: number): number {
  let q = at + 6;
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) continue;
    out[q++] = (HEX[src[keyAt + i] & 0x7f] << 4) | HEX[src[keyAt + ++i] & 0x7f];
  }
  return writeTupleFrame(out, at, eventTimeMs);
}

/** The tuple's field count and lengths around the key, and its event time. */
function writeTupleFrame(out: Buffer, at: number, eventTimeMs: number): number {
  out.writeInt16BE(3, at);
  out.writeInt32BE(16, at + 2);
  out.writeInt32BE(8, at + 22);
  const micros = (eventTimeMs - PG_EPOCH_MS) * 1000;
  if (Number.isSafeInteger(micros)) {
    const high = Math.floor(micros / 2 ** 32);
    out.writeInt32BE(high, at + TIME_AT);
    out.writeUInt32BE(micros - high * 2 ** 32, at + TIME_AT + 4);
  } else out.writeBigInt64BE((BigInt(eventTimeMs) - BigInt(PG_EPOCH_MS)) * 1000n, at + TIME_AT);
  out.writeInt32BE(8, at + 34);
  return at + FINGERPRINT_AT;
}

/** The fingerprint of the tuple at `at`, as the decimal text Postgres prints a bigint in. */
export const tupleFingerprint = (buf: Buffer, at: number): string => buf.readBigInt64BE(at + FINGERPRINT_AT).toString();

/** The event time of the tuple at `at`, in ISO 8601. */
export function tupleEventTime(buf: Buffer, at: number): string {
  const micros = buf.readBigInt64BE(at + TIME_AT);
  return new Date(Number(micros / 1000n) + PG_EPOCH_MS).toISOString();
}

/** The key of the tuple at `at`, as Postgres prints a uuid. */
export function tupleKey(buf: Buffer, at: number): string {
  const h = buf.toString('hex', at + 6, at + 22);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
