import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { compressSync as snappyCompress } from 'snappy';
import { AvroCodec } from '../../src/avro/codec';
import { DependencyError, InvalidInputError } from '../../src/errors';
import { CODEC_IDS, CodecName, compressionType, snappyDecompress, tolerant, UnreadableBatchError } from '../../src/kafka/codecs';
import { crashCause, restartOnFailure } from '../../src/kafka/consumer-supervisor';
import { avroType } from '../../src/avro/codec';

// kafkajs's own decoders, to prove the placeholders decode as the records of the batch they replace.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Decoder = require('kafkajs/src/protocol/decoder');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const RecordBatchDecoder = require('kafkajs/src/protocol/recordBatch/v0/decoder');

type Codec = { compress(e: { buffer: Buffer }): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> };
const registered = (name: CodecName) => (CompressionCodecs as Record<number, () => Codec>)[CODEC_IDS[name]]();

describe('Kafka codecs', () => {
  const payload = Buffer.from('cost event '.repeat(5000));

  it.each(['gzip', 'snappy', 'lz4', 'zstd'] as CodecName[])('%s is registered with kafkajs and round-trips', async (name) => {
    const codec = registered(name);
    const compressed = await codec.compress({ buffer: payload });
    expect(compressed.length).toBeLessThan(payload.length / 5);
    expect((await codec.decompress(compressed)).equals(payload)).toBe(true);
  });

  it('reads snappy in the xerial framing the Java client writes, and raw snappy as librdkafka writes it', () => {
    const a = payload.subarray(0, 20_000);
    const b = payload.subarray(20_000);
    const header = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]);
    const block = (chunk: Buffer) => {
      const c = snappyCompress(chunk);
      const len = Buffer.alloc(4);
      len.writeInt32BE(c.length);
      return Buffer.concat([len, c]);
    };
    expect(snappyDecompress(Buffer.concat([header, block(a), block(b)])).equals(payload)).toBe(true);
    expect(snappyDecompress(snappyCompress(payload)).equals(payload)).toBe(true);
    expect(() => snappyDecompress(Buffer.concat([header, block(a)]).subarray(0, 40))).toThrow(/exceeds the input/);
  });

  it('maps SDK_COMPRESSION names to kafkajs compression types', () => {
    expect(compressionType('none')).toBe(CompressionTypes.None);
    expect(compressionType('snappy')).toBe(CompressionTypes.Snappy);
    expect(compressionType('lz4')).toBe(CompressionTypes.LZ4);
    expect(compressionType('zstd')).toBe(CompressionTypes.ZSTD);
  });
});

/** A record batch v2 as the broker serves it: 61-byte header, then the (here undecodable) compressed records. */
function recordBatch(baseOffset: bigint, count: number, codecId: number, compressed: Buffer): Buffer {
  const header = Buffer.alloc(61);
  header.writeBigInt64BE(baseOffset, 0);
  header.writeInt32BE(49 + compressed.length, 8);
  header.writeInt32BE(0, 12); // leader epoch
  header.writeInt8(2, 16); // magic
  header.writeInt16BE(codecId, 21);
  header.writeInt32BE(count - 1, 23); // last offset delta
  header.writeBigInt64BE(1_700_000_000_000n, 27); // first timestamp
  header.writeBigInt64BE(1_700_000_000_000n, 35); // max timestamp
  header.writeBigInt64BE(-1n, 43); // producer id
  header.writeInt16BE(-1, 51);
  header.writeInt32BE(-1, 53);
  header.writeInt32BE(count, 57);
  return Buffer.concat([header, compressed]);
}

describe('a batch that cannot be decompressed', () => {
  const failing: Codec = { compress: async ({ buffer }) => buffer, decompress: async () => Promise.reject(new Error('corrupt frame')) };

  it('becomes one placeholder per record, at the batch offsets, that AvroCodec refuses as kafka.unreadable_batch', async () => {
    const original = (CompressionCodecs as Record<number, () => Codec>)[CompressionTypes.ZSTD];
    (CompressionCodecs as Record<number, () => Codec>)[CompressionTypes.ZSTD] = () => tolerant('zstd', failing);
    try {
      const fetched = Buffer.concat([Buffer.alloc(7), recordBatch(41n, 3, CompressionTypes.ZSTD, Buffer.from('not zstd at all'))]);
      const batch = await RecordBatchDecoder(new Decoder(fetched.subarray(7)));
      expect(batch.records.map((r: { offset: string }) => r.offset)).toEqual(['41', '42', '43']);
      const codec = new AvroCodec('http://127.0.0.1:1');
      const err = await codec.decode(batch.records[1].value, avroType({ type: 'record', name: 'X', fields: [] })).catch((e) => e);
      expect(err).toBeInstanceOf(InvalidInputError);
      expect(err.reason).toBe('kafka.unreadable_batch');
      expect(err.message).toBe('the zstd record batch at base offset 41 (3 records) could not be decompressed: corrupt frame');
    } finally {
      (CompressionCodecs as Record<number, () => Codec>)[CompressionTypes.ZSTD] = original;
    }
  });

  it('throws as before when the bytes are not a view into a fetched batch', async () => {
    await expect(tolerant('zstd', failing).decompress(Buffer.from('loose bytes'))).rejects.toThrow(UnreadableBatchError);
    await expect(tolerant('zstd', failing).decompress(Buffer.from('loose bytes'))).rejects.toThrow('a zstd record batch of 11 bytes could not be decompressed: corrupt frame');
    // A header that does not match (another codec's attribute bits) is not trusted either.
    const fetched = recordBatch(0n, 2, CompressionTypes.LZ4, Buffer.from('xx'));
    await expect(tolerant('zstd', failing).decompress(fetched.subarray(61))).rejects.toThrow('corrupt frame');
  });
});

describe('consumer restarts', () => {
  const retriesExceeded = (cause: unknown) => Object.assign(new Error('retries exceeded'), { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false, cause });

  it('are refused when the error behind the crash says it is not retriable', async () => {
    expect(await restartOnFailure(retriesExceeded(new UnreadableBatchError('a zstd record batch could not be decompressed: corrupt')))).toBe(false);
    expect(await restartOnFailure(Object.assign(new Error('Snappy compression not implemented'), { name: 'KafkaJSNotImplemented', retriable: false }))).toBe(false);
  });

  it('go ahead for passing faults and for errors that do not say (the supervisor counts those)', async () => {
    expect(await restartOnFailure(retriesExceeded(Object.assign(new Error('ECONNREFUSED'), { name: 'KafkaJSConnectionError', retriable: true })))).toBe(true);
    expect(await restartOnFailure(retriesExceeded(new DependencyError('postgres', 'connection reset')))).toBe(true);
    expect(await restartOnFailure(retriesExceeded(new Error('terminating connection due to administrator command')))).toBe(true);
    expect(crashCause(retriesExceeded(new Error('x'))).retriable).toBeUndefined();
  });
});
