/**
 * What a consumer receives in place of a record batch it cannot decompress.
 *
 * kafkajs hands a codec only the compressed bytes of a batch; when decompression throws, the
 * whole fetch fails, the consumer crashes and the partition is stuck behind that batch. Instead,
 * the codec plug-in (src/kafka/codecs.ts) returns one placeholder record per record of the batch,
 * at the batch's own offsets, whose value is a marker naming the codec and the error. Every
 * consumer decodes values with AvroCodec, which turns the marker into an InvalidInputError with
 * reason `kafka.unreadable_batch`, so the records are dead-lettered with their topic, partition
 * and offset by the consumers' usual path, and the partition moves on.
 *
 * The batch header is not passed to codecs, but kafkajs decompresses a view into the fetched
 * response: the 61-byte record-batch v2 header sits right before the compressed records. It is
 * used only when it proves itself (magic 2, the batch length matching the view, this codec's
 * attribute bits); otherwise the error is thrown as before and the consumer supervisor
 * (consumer-supervisor.ts) takes the role down for a restart.
 */

/** Record batch v2: baseOffset(8) length(4) leaderEpoch(4) magic(1) crc(4) attributes(2) lastOffsetDelta(4) firstTimestamp(8) maxTimestamp(8) producerId(8) producerEpoch(2) baseSequence(4) recordCount(4). */
const BATCH_HEADER_BYTES = 61;
/** Bytes of the header after its length field, which the length counts. */
const LENGTH_COUNTED_HEADER_BYTES = BATCH_HEADER_BYTES - 12;
/** A batch this large in records is not plausible for a broker's 1 MB default; refuse to synthesise more. */
const MAX_RECORDS = 1_000_000;

const MARKER = Buffer.from('\xffFINOPS-UNREADABLE-BATCH\x00', 'latin1');

export interface BatchHeader {
  baseOffset: string;
  lastOffsetDelta: number;
  recordCount: number;
}

/** The header of the record batch whose compressed records are `compressed`, if the view proves it. */
export function batchHeaderBefore(compressed: Buffer, codecId: number): BatchHeader | undefined {
  if (compressed.byteOffset < BATCH_HEADER_BYTES) return undefined;
  const header = Buffer.from(compressed.buffer, compressed.byteOffset - BATCH_HEADER_BYTES, BATCH_HEADER_BYTES);
  if (header.readInt32BE(8) !== LENGTH_COUNTED_HEADER_BYTES + compressed.length) return undefined;
  if (header.readInt8(16) !== 2) return undefined;
  if ((header.readInt16BE(21) & 0x07) !== codecId) return undefined;
  const lastOffsetDelta = header.readInt32BE(23);
  const recordCount = header.readInt32BE(57);
  if (recordCount <= 0 || recordCount > MAX_RECORDS || lastOffsetDelta < recordCount - 1) return undefined;
  return { baseOffset: header.readBigInt64BE(0).toString(), lastOffsetDelta, recordCount };
}

function zigzagVarint(n: number): Buffer {
  let v = n >= 0 ? n * 2 : -n * 2 - 1;
  const bytes: number[] = [];
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/**
 * `recordCount` Kafka v2 records, as a decompressed batch body: offsets follow the header's
 * (the last at lastOffsetDelta), no key, the marker value, no headers.
 */
export function placeholderRecords(header: BatchHeader, codec: string, error: string): Buffer {
  const value = Buffer.concat([MARKER, Buffer.from(JSON.stringify({ codec, error: error.slice(0, 500), baseOffset: header.baseOffset, records: header.recordCount }))]);
  const parts: Buffer[] = [];
  for (let i = 0; i < header.recordCount; i++) {
    const offsetDelta = i === header.recordCount - 1 ? header.lastOffsetDelta : i;
    const body = Buffer.concat([
      Buffer.from([0]), // attributes
      zigzagVarint(0), // timestamp delta: the batch's first timestamp
      zigzagVarint(offsetDelta),
      zigzagVarint(-1), // null key
      zigzagVarint(value.length),
      value,
      zigzagVarint(0), // no headers
    ]);
    parts.push(zigzagVarint(body.length), body);
  }
  return Buffer.concat(parts);
}

/** The reason text of a placeholder value, or undefined for any other value. */
export function unreadableBatchMarker(value: Buffer | null | undefined): string | undefined {
  if (!value || value.length < MARKER.length || value[0] !== 0xff || !value.subarray(0, MARKER.length).equals(MARKER)) return undefined;
  const { codec, error, baseOffset, records } = JSON.parse(value.subarray(MARKER.length).toString('utf8')) as { codec: string; error: string; baseOffset: string; records: number };
  return `the ${codec} record batch at base offset ${baseOffset} (${records} records) could not be decompressed: ${error}`;
}
