import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Partitioners } from 'kafkajs';
import { setting } from '../../src/config';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { waitFor } from '../../testkit/wait-for';

/** Debian's python3-confluent-kafka and python3-avro live in the system interpreter (stack/stack.sh installs them). */
const PYTHON = '/usr/bin/python3';
const EXAMPLE = path.resolve(__dirname, '../../examples/python/publish_cost_events.py');
const EVENTS = 2000;

describe('the Python producer example of docs/producers.md (python3-confluent-kafka, python3-avro)', () => {
  let env: TestEnv;

  beforeAll(async () => {
    env = await createTestEnv('pyproducer');
    await startStorage(env);
  });
  afterAll(() => env.close());

  it(`publishes ${EVENTS} events that storage keeps exactly: count, sum, and the persona's partition as the SDK's`, async () => {
    const prefix = `${env.id}-py`;
    const { stdout } = await promisify(execFile)(PYTHON, [
      EXAMPLE, '--brokers', setting('KAFKA_BROKERS'), '--registry', setting('SCHEMA_REGISTRY_URL'),
      '--topic', String(env.overrides.TOPIC_COST_EVENTS), '--count', String(EVENTS), '--persona-prefix', prefix,
    ], { timeout: 120_000 });
    const out = JSON.parse(stdout.trim().split('\n').pop()!);
    expect(out).toMatchObject({ published: EVENTS, failed: 0 });
    const like = `${prefix}-%`;
    await waitFor(async () => (await env.pool.query('SELECT count(*)::int AS n FROM cost_events WHERE persona_id LIKE $1', [like])).rows[0].n === EVENTS, { timeoutMs: 60_000, what: `${EVENTS} stored events` });
    const { rows } = await env.pool.query(
      `SELECT sum(amount_usd)::text AS usd, min(amount_usd)::text AS smallest, (SELECT sum(total_usd)::text FROM post_costs WHERE persona_id LIKE $1) AS posts,
              (SELECT count(*)::int FROM dead_letters WHERE source_topic = $2) AS dead
         FROM cost_events WHERE persona_id LIKE $1`,
      [like, env.overrides.TOPIC_COST_EVENTS],
    );
    expect(rows[0]).toEqual({ usd: out.amount_usd, posts: out.amount_usd, dead: 0, smallest: expect.any(String) });
    // Quantized amounts: every event costs at least $0.0000216 (110 tokens of gpt-4o-mini); an unquantized
    // Decimal would have been read at 10^-(9 - its own scale), $0.00000002 for 0.0000216.
    expect(Number(rows[0].smallest)).toBeGreaterThan(0.00002);
    // murmur2 on the UTF-8 persona id: every persona on the partition the SDK (kafkajs's Java-compatible partitioner) would pick.
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: Number(setting('TOPIC_PARTITIONS')) }, (_, i) => ({ partitionId: i, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
    const placed = await env.pool.query('SELECT persona_id, array_agg(DISTINCT kafka_partition) AS partitions FROM cost_events WHERE persona_id LIKE $1 GROUP BY persona_id', [like]);
    expect(placed.rows).toHaveLength(7);
    for (const r of placed.rows) {
      const expected = partitioner({ topic: 't', partitionMetadata, message: { key: Buffer.from(r.persona_id), value: null } });
      expect({ persona: r.persona_id, partitions: r.partitions }).toEqual({ persona: r.persona_id, partitions: [expected] });
    }
  });

  it('dead-letters unquantized amounts (python3-avro writes Decimal digits at their own scale) as amount.scale_mismatch, storing none', async () => {
    const prefix = `${env.id}-unq`;
    const { stdout } = await promisify(execFile)(PYTHON, [
      EXAMPLE, '--brokers', setting('KAFKA_BROKERS'), '--registry', setting('SCHEMA_REGISTRY_URL'),
      '--topic', String(env.overrides.TOPIC_COST_EVENTS), '--count', '200', '--persona-prefix', prefix, '--no-quantize',
    ], { timeout: 120_000 });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toMatchObject({ published: 200, failed: 0 });
    const dead = async () => (await env.pool.query("SELECT count(*)::int AS n, array_agg(DISTINCT reason) AS reasons FROM dead_letters WHERE source_topic = $1 AND convert_from(message_key, 'UTF8') LIKE $2", [env.overrides.TOPIC_COST_EVENTS, `${prefix}-%`])).rows[0];
    await waitFor(async () => (await dead()).n === 200, { timeoutMs: 60_000, what: '200 dead letters' });
    expect(await dead()).toEqual({ n: 200, reasons: ['amount.scale_mismatch'] });
    expect((await env.pool.query('SELECT count(*)::int AS n FROM cost_events WHERE persona_id LIKE $1', [`${prefix}-%`])).rows[0].n).toBe(0);
  });
});
