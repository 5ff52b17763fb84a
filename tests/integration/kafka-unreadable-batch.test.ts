import { spawn } from 'node:child_process';
import path from 'node:path';
import type avro from 'avsc';
import { CompressionTypes, Producer } from 'kafkajs';
import * as zstd from '@mongodb-js/zstd';
import { storageRole } from '../../consumers/storage';
import { AvroCodec, avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { setting, topics } from '../../src/config';
import { OpsServer } from '../../src/http/ops-server';
import { registerCodec } from '../../src/kafka/codecs';
import { registry } from '../../src/metrics';
import { costEvent } from './anomaly-support';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { spawnRoles } from '../../testkit/role-process';
import { waitFor } from '../../testkit/wait-for';

const PYTHON = '/usr/bin/python3';
const LIBRDKAFKA_PRODUCER = path.join(__dirname, '../helpers/produce-compressed.py');
const ZSTD_FAULT = path.join(__dirname, '../helpers/zstd-decompress-fault.cjs');

function produceZstdWithLibrdkafka(brokers: string, topic: string, messages: { key: Buffer; value: Buffer }[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [LIBRDKAFKA_PRODUCER], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`librdkafka producer exited ${code}: ${out}`))));
    child.stdin.end(JSON.stringify({ brokers, topic, compression: 'zstd', messages: messages.map((m) => ({ key: m.key.toString('base64'), value: m.value.toString('base64') })) }));
  });
}

async function ready(port: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(3000) });
  return { status: res.status, body: await res.text() };
}

describe('a batch a consumer cannot read never leaves it silently stuck', () => {
  let env: TestEnv;
  let costType: avro.Type;
  let schemaId: number;
  let producer: Producer;

  beforeAll(async () => {
    env = await createTestEnv('unreadable');
    costType = avroType(loadSchema('cost-event'));
    schemaId = await env.codec.register(topics(env.overrides).costEvents, loadSchema('cost-event'));
    producer = env.kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    env.cleanup(() => producer.disconnect());
  });
  afterAll(() => env.close());

  it('dead-letters the records of a batch whose decompression fails, with origin and reason, and keeps storing', async () => {
    // Fault injected at kafkajs's codec plug-in point: this process's zstd decompress throws.
    registerCodec('zstd', { compress: ({ buffer }) => zstd.compress(buffer, 3), decompress: async () => Promise.reject(new Error('injected fault: corrupt zstd frame')) });
    const ops = new OpsServer();
    const role = storageRole({ overrides: env.overrides, ops });
    await role.start();
    env.cleanup(() => role.stop());
    const t = topics(env.overrides);
    const persona = `${env.id}-p`;
    const encode = (i: number) => AvroCodec.encode(schemaId, costType, costEvent(persona, Date.now() - 1000 + i, '0.000001000', `${persona}-post`));
    await producer.send({ topic: t.costEvents, compression: CompressionTypes.ZSTD, acks: -1, messages: Array.from({ length: 10 }, (_, i) => ({ key: persona, value: encode(i), partition: 0 })) });
    await producer.send({ topic: t.costEvents, compression: CompressionTypes.GZIP, acks: -1, messages: Array.from({ length: 5 }, (_, i) => ({ key: persona, value: encode(100 + i), partition: 0 })) });

    await waitFor(async () => (await env.pool.query('SELECT count(*)::int AS n FROM cost_events WHERE persona_id = $1', [persona])).rows[0].n === 5, { what: 'the 5 readable events stored' });
    const dead = await waitFor(async () => {
      const r = await env.pool.query('SELECT source_partition, source_offset::int AS o, reason, error FROM dead_letters WHERE source_topic = $1 ORDER BY source_offset', [t.costEvents]);
      return r.rows.length === 10 ? r.rows : undefined;
    }, { what: '10 dead letters' });
    expect(dead.map((d) => d.o)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const d of dead) {
      expect(d).toMatchObject({ source_partition: 0, reason: 'kafka.unreadable_batch' });
      expect(d.error).toContain('zstd record batch at base offset 0 (10 records) could not be decompressed: injected fault: corrupt zstd frame');
    }
    const unreadable = (await registry.getSingleMetric('finops_kafka_unreadable_batches_total')!.get()).values.find((v) => v.labels.codec === 'zstd');
    expect(unreadable?.value).toBeGreaterThanOrEqual(1);
    const deadMetric = (await registry.getSingleMetric('finops_dead_letters_total')!.get()).values.find((v) => v.labels.reason === 'kafka.unreadable_batch');
    expect(deadMetric?.value).toBe(10);
    expect((await ops.readiness()).ready).toBe(true); // not stuck: the partition moved on
  });

  it('a role whose consumer stops on a batch it cannot read goes unready and exits non-zero', async () => {
    const t = topics(env.overrides);
    const overrides = { ...env.overrides, STORAGE_GROUP_ID: `test.${env.id}.storage-crash`, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${ZSTD_FAULT}`.trim() };
    const roleProcess = spawnRoles(['storage'], overrides);
    env.cleanup(() => roleProcess.kill('SIGKILL'));
    const port = await roleProcess.running;
    await waitFor(async () => (await ready(port)).status === 200, { what: 'the role ready before the batch' });
    const persona = `${env.id}-crash`;
    await produceZstdWithLibrdkafka(setting('KAFKA_BROKERS', env.overrides), t.costEvents, Array.from({ length: 20 }, (_, i) => ({ key: Buffer.from(persona), value: AvroCodec.encode(schemaId, costType, costEvent(persona, Date.now() + i, '0.000001000')) })));

    const unready = await waitFor(async () => {
      const r = await ready(port);
      return r.status === 503 ? r : undefined;
    }, { what: '/ready answering 503', intervalMs: 100 });
    expect(unready.body).toContain('injected fault: zstd decompress failed');
    const code = await Promise.race([roleProcess.exited, new Promise((resolve) => setTimeout(() => resolve('still running'), 30_000))]);
    expect(code).toBe(1);
  });
});
