import './linear-grouping';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import type * as Zstd from '@mongodb-js/zstd';
import type * as Lz4 from 'lz4-napi';
import type * as Snappy from 'snappy';
import { FinOpsError } from '../errors';
import { counter } from '../metrics';
import { logger } from '../logging';
import { batchHeaderBefore, placeholderRecords } from './unreadable-batch';

/**
 * Every Kafka codec, registered once at kafkajs's plug-in point (imported by client.ts, so every
 * Kafka client the pipeline makes has them). kafkajs itself brings only gzip.
 *
 * The implementations are N-API builds delivered as npm optional dependencies with no install
 * script (no compiler, on Node 20 and 22): `snappy` (napi-rs), `lz4-napi` (lz4_flex) and
 * `@mongodb-js/zstd` 1.x (the zstd crate). Formats as Kafka defines them:
 * - snappy: raw snappy blocks, or the xerial framing the Java client writes (read both; write raw,
 *   which librdkafka also writes and the Java client reads);
 * - lz4: the LZ4 frame format with independent blocks (KafkaLZ4BlockOutputStream, librdkafka);
 * - zstd: standard zstd frames, written at level 3 (the Java client's default).
 */

interface KafkaCodec {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
}

export type CodecName = 'gzip' | 'snappy' | 'lz4' | 'zstd';

export const CODEC_IDS: Record<CodecName, CompressionTypes> = {
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

/** What a producer may publish with (`SDK_COMPRESSION`). */
export const COMPRESSIONS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type Compression = (typeof COMPRESSIONS)[number];

export function compressionType(compression: Compression): CompressionTypes {
  return compression === 'none' ? CompressionTypes.None : CODEC_IDS[compression];
}

/** A codec whose native build is missing on this platform; a consumer that meets it stops (not retriable). */
export class CodecUnavailableError extends FinOpsError {}

/**
 * Native codecs load on first use, so a platform without one of the prebuilt binaries still runs
 * every role: only a batch with that codec stops its consumer, saying which package is missing.
 */
function lazy<T>(pkg: string): () => T {
  let loaded: T | undefined;
  return () => {
    if (loaded) return loaded;
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded = require(pkg) as T;
    } catch (err) {
      throw new CodecUnavailableError(`the ${pkg} codec cannot be loaded on ${process.platform}-${process.arch}: ${(err as Error).message}`);
    }
    return loaded;
  };
}
const snappy = lazy<typeof Snappy>('snappy');
const lz4 = lazy<typeof Lz4>('lz4-napi');
const zstd = lazy<typeof Zstd>('@mongodb-js/zstd');

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16; // magic, version int32, compatible-version int32

/** Snappy as Kafka producers write it: one raw block, or xerial framing (header, then length-prefixed blocks). */
export function snappyDecompress(input: Buffer): Buffer {
  if (input.length < XERIAL_HEADER_BYTES || !input.subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) {
    return snappy().uncompressSync(input, { asBuffer: true }) as Buffer;
  }
  const blocks: Buffer[] = [];
  let pos = XERIAL_HEADER_BYTES;
  while (pos < input.length) {
    if (pos + 4 > input.length) throw new Error(`truncated xerial snappy block header at byte ${pos}`);
    const size = input.readInt32BE(pos);
    pos += 4;
    if (size < 0 || pos + size > input.length) throw new Error(`xerial snappy block of ${size} bytes at byte ${pos} exceeds the input`);
    blocks.push(snappy().uncompressSync(input.subarray(pos, pos + size), { asBuffer: true }) as Buffer);
    pos += size;
  }
  return Buffer.concat(blocks);
}

const implementations: Record<Exclude<CodecName, 'gzip'>, KafkaCodec> = {
  snappy: {
    compress: async ({ buffer }) => snappy().compressSync(buffer),
    decompress: async (buffer) => snappyDecompress(buffer),
  },
  lz4: {
    compress: async ({ buffer }) => lz4().compressFrameSync(buffer),
    decompress: async (buffer) => lz4().decompressFrameSync(buffer),
  },
  zstd: {
    compress: async ({ buffer }) => zstd().compress(buffer, 3),
    decompress: async (buffer) => zstd().decompress(buffer),
  },
};

const log = logger('kafka-codecs');

/** A fetched batch that cannot be decompressed and cannot be replaced by placeholders; not retriable. */
export class UnreadableBatchError extends FinOpsError {}

function unreadableBatches() {
  return counter('finops_kafka_unreadable_batches_total', 'Fetched record batches that could not be decompressed; their records were handed on as placeholders and dead-lettered', ['codec']);
}

/**
 * A decompression failure becomes placeholder records (see unreadable-batch.ts) so the
 * consumer dead-letters them and moves on; if the batch header cannot be proven, it throws.
 */
export function tolerant(name: CodecName, codec: KafkaCodec): KafkaCodec {
  return {
    compress: (encoder) => codec.compress(encoder),
    async decompress(buffer) {
      try {
        return await codec.decompress(buffer);
      } catch (err) {
        if (err instanceof CodecUnavailableError) throw err;
        const message = (err as Error)?.message ?? String(err);
        const header = batchHeaderBefore(buffer, CODEC_IDS[name]);
        unreadableBatches().inc({ codec: name });
        if (!header) {
          log.error({ codec: name, err: message, bytes: buffer.length }, 'a fetched record batch could not be decompressed and its header could not be located; the consumer stops');
          // No `cause`: kafkajs's retrier reports `e.cause || e`, and would pass over this error's flag.
          throw new UnreadableBatchError(`a ${name} record batch of ${buffer.length} bytes could not be decompressed: ${message}`);
        }
        log.error(
          { codec: name, err: message, baseOffset: header.baseOffset, records: header.recordCount, bytes: buffer.length },
          'a fetched record batch could not be decompressed; its records are dead-lettered with reason kafka.unreadable_batch',
        );
        return placeholderRecords(header, name, message);
      }
    },
  };
}

/** The codec kafkajs uses for a name, as registered; tests swap the inner codec to inject faults. */
export function registerCodec(name: CodecName, codec: KafkaCodec): void {
  const wrapped = tolerant(name, codec);
  (CompressionCodecs as Record<number, () => KafkaCodec>)[CODEC_IDS[name]] = () => wrapped;
}

let registered = false;

export function registerKafkaCodecs(): void {
  if (registered) return;
  registered = true;
  const gzip = (CompressionCodecs as Record<number, () => KafkaCodec>)[CompressionTypes.GZIP]();
  registerCodec('gzip', gzip);
  for (const [name, codec] of Object.entries(implementations) as [Exclude<CodecName, 'gzip'>, KafkaCodec][]) registerCodec(name, codec);
}

registerKafkaCodecs();
