import { spawn } from 'node:child_process';
import path from 'node:path';
import type avro from 'avsc';
import { CompressionCodecs, CompressionTypes } from 'kafkajs';
import { AvroCodec, avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { setting, topics } from '../../src/config';
import { ensureTopics } from '../../src/kafka/client';
import { registry } from '../../src/metrics';
import { costEvent, startAnomaly } from './anomaly-support';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { waitFor } from '../../testkit/wait-for';

type CodecName = 'gzip' | 'snappy' | 'lz4' | 'zstd';
const CODEC_IDS: Record<CodecName, CompressionTypes> = { gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD };

/** Debian's python3-confluent-kafka lives in the system interpreter (stack/stack.sh installs it). */
const PYTHON = '/usr/bin/python3';
const PRODUCER = path.join(__dirname, '../helpers/produce-compressed.py');

/** Produces pre-encoded messages with librdkafka and the given compression.type. */
function produceWithLibrdkafka(spec: { brokers: string; topic: string; compression: CodecName; messages: { key: Buffer; value: Buffer }[] }): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [PRODUCER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`librdkafka producer exited ${code}: ${out}`))));
    child.stdin.end(JSON.stringify({ ...spec, messages: spec.messages.map((m) => ({ key: m.key.toString('base64'), value: m.value.toString('base64') })) }));
  });
}

const KAFKA_LIBS = path.join(process.env.FINOPS_STACK_DIR ?? path.resolve(__dirname, '../../.stack'), 'kafka-libs');

/** Produces text lines with the Java client (Kafka's console producer) and the given compression codec. */
function produceWithJavaClient(brokers: string, topic: string, compression: CodecName, lines: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('java', ['-cp', `${KAFKA_LIBS}/*`, 'kafka.tools.ConsoleProducer', '--bootstrap-server', brokers, '--topic', topic, '--compression-codec', compression, '--producer-property', 'linger.ms=50', '--producer-property', 'batch.size=1000000'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`Java console producer exited ${code}: ${out.slice(-2000)}`))));
    child.stdin.end(lines.join('\n') + '\n');
  });
}

async function counterValue(name: string, labels: Record<string, string>): Promise<number> {
  const m = registry.getSingleMetric(name);
  if (!m) return 0;
  const { values } = await m.get();
  return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((s, v) => s + v.value, 0);
}

describe('every Kafka codec, from a producer other than the SDK', () => {
  const CODECS: CodecName[] = ['gzip', 'snappy', 'lz4', 'zstd'];
  const PER_CODEC = 200;
  let env: TestEnv;
  let costType: avro.Type;
  let schemaId: number;

  beforeAll(async () => {
    env = await createTestEnv('codecs');
    costType = avroType(loadSchema('cost-event'));
    schemaId = await env.codec.register(topics(env.overrides).costEvents, loadSchema('cost-event'));
    await startStorage(env);
    await startAnomaly(env);
  });
  afterAll(() => env.close());

  it('stores (storage) and reads (anomaly) gzip, snappy, lz4 and zstd batches written by librdkafka', async () => {
    const decompressed = new Map<CodecName, number>();
    for (const name of CODECS) {
      let codec: { decompress: (b: Buffer) => Promise<Buffer> };
      try {
        codec = (CompressionCodecs as Record<number, () => typeof codec>)[CODEC_IDS[name]]();
      } catch {
        continue; // kafkajs alone has no such codec: the consumers will fail below
      }
      const original = codec.decompress;
      codec.decompress = (b) => {
        decompressed.set(name, (decompressed.get(name) ?? 0) + 1);
        return original(b);
      };
      env.cleanup(() => (codec.decompress = original));
    }
    const now = Date.now();
    for (const name of CODECS) {
      const persona = `${env.id}-${name}`;
      const messages = Array.from({ length: PER_CODEC }, (_, i) => ({ key: Buffer.from(persona), value: AvroCodec.encode(schemaId, costType, costEvent(persona, now - 1000 + i, '0.000001000', `${persona}-post`)) }));
      await produceWithLibrdkafka({ brokers: setting('KAFKA_BROKERS', env.overrides), topic: topics(env.overrides).costEvents, compression: name, messages });
    }

    for (const name of CODECS) {
      const persona = `${env.id}-${name}`;
      await waitFor(async () => (await env.pool.query('SELECT count(*)::int AS n FROM cost_events WHERE persona_id = $1', [persona])).rows[0].n === PER_CODEC, { what: `${PER_CODEC} ${name} events stored`, timeoutMs: 30_000 });
      const sum = await env.pool.query('SELECT sum(amount_usd)::text AS s FROM cost_events WHERE persona_id = $1', [persona]);
      expect(sum.rows[0].s).toBe('0.000200000');
    }
    const total = CODECS.length * PER_CODEC;
    await waitFor(async () => (await counterValue('finops_anomaly_events_total', { input: 'cost', outcome: 'processed' })) === total, { what: `anomaly consumer processed ${total} events` });
    expect(await counterValue('finops_anomaly_events_total', { input: 'cost', outcome: 'dead_lettered' })).toBe(0);
    const dead = await env.pool.query('SELECT count(*)::int AS n FROM dead_letters WHERE source_topic = $1', [topics(env.overrides).costEvents]);
    expect(dead.rows[0].n).toBe(0);
    // Each codec's batches really were compressed with it (both consumers decompressed them).
    for (const name of CODECS) expect(decompressed.get(name) ?? 0).toBeGreaterThanOrEqual(2);
  });

  it('reads batches the Java client writes: snappy in its xerial framing, lz4 frames, zstd and gzip', async () => {
    const brokers = setting('KAFKA_BROKERS', env.overrides);
    for (const name of CODECS) {
      const topic = `test.${env.id}.java-${name}`;
      await ensureTopics(env.kafka, [{ topic, numPartitions: 1 }], env.overrides);
      env.cleanup(async () => {
        const admin = env.kafka.admin();
        await admin.connect();
        await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
        await admin.disconnect();
      });
      const lines = Array.from({ length: 300 }, (_, i) => `java-${name}-${i}-${'x'.repeat(i % 50)}`);
      await produceWithJavaClient(brokers, topic, name, lines);
      const seen: string[] = [];
      const consumer = env.kafka.consumer({ groupId: `test.${env.id}.java-${name}`, maxWaitTimeInMs: 50 });
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      let crashed: Error | undefined;
      consumer.on(consumer.events.CRASH, ({ payload }) => (crashed = payload.error));
      await consumer.run({ eachMessage: async ({ message }) => void seen.push(String(message.value)) });
      try {
        await waitFor(() => crashed ?? seen.length === lines.length, { what: `${lines.length} ${name} lines from the Java client` });
        expect(crashed).toBeUndefined();
        expect(seen).toEqual(lines);
      } finally {
        await consumer.disconnect();
      }
    }
  });
});
