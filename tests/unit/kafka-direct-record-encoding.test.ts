import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { CompressionTypes } from 'kafkajs';
import '../../src/kafka/codecs';
import { randomBytes } from 'node:crypto';
import { crc32c, directRecordEncodingInstalled, produceRequestV3, ProduceRequestArgs } from '../../src/kafka/direct-record-encoding';
// Jest's module registry is its own, so these are kafkajs's original encoders.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const original = require('kafkajs/src/protocol/requests/produce/v3/request') as typeof produceRequestV3;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Long = require('kafkajs/src/utils/long') as { fromValue(v: unknown): unknown };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const decodeProduceV3 = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (decoder: unknown) => Promise<{ records: { key: Buffer | null; value: Buffer | null; headers: Record<string, unknown> }[] }>;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const kafkajsCrc32C = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;

const ROOT = path.resolve(__dirname, '../..');
const NOW = 1_764_000_000_123;
const CODECS: [string, CompressionTypes][] = [
  ['none', CompressionTypes.None], ['gzip', CompressionTypes.GZIP], ['snappy', CompressionTypes.Snappy],
  ['lz4', CompressionTypes.LZ4], ['zstd', CompressionTypes.ZSTD],
];

async function bytes(encoder: typeof produceRequestV3, args: ProduceRequestArgs): Promise<Buffer> {
  return Buffer.from((await encoder(args).encode()).buffer);
}

/** Messages of every shape the SDK and other producers send. */
function messages(n: number, seed: number) {
  return Array.from({ length: n }, (_, i) => {
    const k = i + seed;
    switch (k % 9) {
      case 0: return { key: Buffer.from(`persona-${k % 97}`), value: Buffer.alloc(180 + (k % 300), k % 251) };
      case 1: return { key: `persona-${k}`, value: `value ${k} ünïcödé ✓`.repeat(1 + (k % 40)) };
      case 2: return { key: null, value: Buffer.from([0, 1, 2, k % 256]) };
      case 3: return { key: Buffer.from('k'), value: null };
      case 4: return { key: undefined, value: undefined, headers: {} };
      case 5: return { key: 'h', value: 'v', headers: { trace: `t-${k}`, bin: Buffer.from([k % 256, 255]), many: ['a', 'ß', Buffer.alloc(70, 7)] } };
      case 6: return { key: Buffer.alloc(0), value: Buffer.alloc(20_000, 3), headers: { 'ключ': 'значение' } };
      case 7: return { key: 'x', value: Buffer.alloc(47, 1) };
      default: return { key: 'y', value: Buffer.alloc(48, 2), headers: { e: '' } };
    }
  });
}

function request(compression: CompressionTypes, overrides: Partial<ProduceRequestArgs> = {}): ProduceRequestArgs {
  return {
    acks: -1,
    timeout: 30_000,
    transactionalId: undefined,
    producerId: Long.fromValue(123_456_789_012),
    producerEpoch: 3,
    compression,
    topicData: [
      { topic: 'finops.cost-events', partitions: [
        { partition: 0, firstSequence: 0, messages: messages(500, 0) },
        { partition: 7, firstSequence: 2_147_483_000, messages: messages(37, 5) },
      ] },
      { topic: 'finops.post-outcomes', partitions: [{ partition: 2, firstSequence: 12, messages: messages(1, 4) }] },
    ],
    ...overrides,
  };
}

describe("the produce request written straight into one buffer (kafkajs's v3 request, v4–v7 reuse it)", () => {
  beforeEach(() => jest.spyOn(Date, 'now').mockReturnValue(NOW));
  afterEach(() => jest.restoreAllMocks());

  it.each(CODECS)('writes the same bytes as kafkajs with %s: keys, null values, headers, sequences', async (_name, codec) => {
    const args = request(codec);
    const ours = await bytes(produceRequestV3, args);
    expect(ours.equals(await bytes(original, args))).toBe(true);
  });

  it.each(CODECS)('writes the same bytes with message timestamps (out of order, strings), a transactional id, no producer id (%s)', async (_name, codec) => {
    const stamped = messages(60, 1).map((m, i) => ({ ...m, timestamp: i % 3 === 0 ? undefined : String(NOW - 5_000 + ((i * 7919) % 10_000)) }));
    const args = request(codec, {
      transactionalId: 'tx-ü',
      producerId: undefined,
      producerEpoch: undefined,
      acks: 1,
      topicData: [{ topic: 't', partitions: [{ partition: 1, messages: stamped }] }],
    });
    expect((await bytes(produceRequestV3, args)).equals(await bytes(original, args))).toBe(true);
  });

  it('hands records outside the common shape to kafkajs: a timestamp delta past 2^30 ms, the same errors for a numeric value or a null header', async () => {
    const far = [{ key: 'a', value: 'b', timestamp: String(NOW - 2 ** 33) }, { key: 'a', value: 'c', timestamp: String(NOW) }];
    const args = request(CompressionTypes.None, { topicData: [{ topic: 't', partitions: [{ partition: 0, messages: far }] }] });
    expect((await bytes(produceRequestV3, args)).equals(await bytes(original, args))).toBe(true);

    for (const odd of [{ key: 'a', value: 42 }, { key: 'a', value: 'b', headers: { h: null } }, { key: 'a', value: 'b', headers: null }]) {
      const bad = request(CompressionTypes.None, { topicData: [{ topic: 't', partitions: [{ partition: 0, messages: [odd] }] }] });
      const expected = await bytes(original, bad).then(() => 'ok', (e: Error) => `${e.constructor.name}: ${e.message}`);
      const got = await bytes(produceRequestV3, bad).then(() => 'ok', (e: Error) => `${e.constructor.name}: ${e.message}`);
      expect(got).toBe(expected);
    }
  });

  it("is read back by kafkajs's own batch decoder: keys, values, headers", async () => {
    const sent = messages(20, 0);
    const args = request(CompressionTypes.ZSTD, { topicData: [{ topic: 't', partitions: [{ partition: 0, messages: sent }] }] });
    const buf = await bytes(produceRequestV3, args);
    // transactional id (int16 −1), acks, timeout, topic count, topic, partition count, partition, record set size
    const batchStart = 2 + 2 + 4 + 4 + 2 + 1 + 4 + 4 + 4;
    const batch = await decodeProduceV3(new Decoder(buf.subarray(batchStart)));
    expect(batch.records.map((r) => [r.key?.toString() ?? null, r.value?.toString() ?? null])).toEqual(
      sent.map((m) => [m.key == null ? null : m.key.toString(), m.value == null ? null : m.value.toString()]),
    );
  });

  it("computes kafkajs's CRC-32C: every length and alignment, the standard check value", () => {
    expect(crc32c(Buffer.from('123456789')).toString(16)).toBe('e3069283');
    const data = randomBytes(70_000);
    for (let n = 0; n < 600; n++) {
      const b = data.subarray(n % 8, (n % 8) + (n < 500 ? n : 60_000 + n));
      expect(crc32c(b)).toBe(kafkajsCrc32C(b));
    }
  });

  it.each([3, 4, 5, 6, 7])("is what kafkajs's Produce v%i request encodes with, under kafkajs's own API version and response", async (version) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const produce = require('kafkajs/src/protocol/requests/produce') as { protocol: (a: { version: number }) => (args: ProduceRequestArgs) => { request: { apiVersion: number; encode: () => Promise<{ buffer: Buffer }> }; response: unknown } };
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const response = require(`kafkajs/src/protocol/requests/produce/v${version}/response`);
    const args = request(CompressionTypes.LZ4);
    const { request: req, response: res } = produce.protocol({ version })(args);
    expect(directRecordEncodingInstalled()).toBe(true);
    expect([req.apiVersion, res]).toEqual([version, response]);
    expect(Buffer.from((await req.encode()).buffer).equals(await bytes(original, args))).toBe(true);
  });

  it("is installed in a process that loads the pipeline's Kafka client", () => {
    const script = `
      require('./src/kafka/client');
      const { directRecordEncodingInstalled } = require('./src/kafka/direct-record-encoding');
      process.stdout.write(JSON.stringify({ installed: directRecordEncodingInstalled() }));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ installed: true });
  });
});
