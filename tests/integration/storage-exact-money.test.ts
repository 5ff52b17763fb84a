import { randomInt, randomUUID } from 'node:crypto';
import { CostTracker, TrackedCost } from '../../producers';
import { CostEvent } from '../../src/events';
import { formatUsd } from '../../src/money';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { trackerFor } from '../../testkit/in-process';
import { waitFor } from '../../testkit/wait-for';

const EVENTS = 100_000;
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-4', 'gpt-3.5-turbo-0125', 'gpt-4.1', 'o3-mini'];

describe('exact money through the whole path', () => {
  let env: TestEnv;
  let tracker: CostTracker;

  beforeAll(async () => {
    env = await createTestEnv('money');
    tracker = trackerFor(env);
    await tracker.start();
    await startStorage(env);
  });
  afterAll(() => env.close());

  it(`stores ${EVENTS} random events whose SUM in Postgres equals the BigInt sum of what the SDK priced`, async () => {
    const persona = (i: number) => `${env.id}-persona-${i % 40}`;
    const pending: Promise<TrackedCost>[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const common = { personaId: persona(i), postId: `${env.id}-post-${i % 5000}`, operation: 'bench' };
      const kind = i % 3;
      if (kind === 0) {
        pending.push(tracker.trackOpenAICost({ ...common, model: MODELS[randomInt(MODELS.length)], inputTokens: randomInt(0, 50_000), outputTokens: randomInt(0, 8_000), cachedInputTokens: randomInt(0, 100) }));
      } else if (kind === 1) {
        pending.push(tracker.trackInfrastructureCost({ ...common, cpuCores: `${randomInt(0, 16)}.${randomInt(0, 1000).toString().padStart(3, '0')}`, memoryGb: `${randomInt(0, 64)}.${randomInt(0, 100)}`, durationMs: randomInt(1, 600_000) }));
      } else {
        pending.push(tracker.trackVectorDbCost({ ...common, vectorOperation: ['query', 'upsert', 'delete', 'fetch'][randomInt(4)], units: randomInt(1, 10_000) }));
      }
    }
    const tracked = await Promise.all(pending);
    const expected = tracked.reduce((sum, t) => sum + t.nanoUsd, 0n);
    expect(expected).toBeGreaterThan(0n);

    const like = `${env.id}-persona-%`;
    await waitFor(async () => (await env.pool.query('SELECT count(*)::int AS n FROM cost_events WHERE persona_id LIKE $1', [like])).rows[0].n === EVENTS, {
      timeoutMs: 120_000, intervalMs: 500, what: `${EVENTS} stored events`,
    });
    const { rows } = await env.pool.query(
      `SELECT (SELECT sum(amount_usd)::text FROM cost_events WHERE persona_id LIKE $1) AS events,
              (SELECT sum(total_usd)::text FROM post_costs WHERE persona_id LIKE $1) AS posts,
              (SELECT sum(total_usd)::text FROM persona_daily_costs WHERE persona_id LIKE $1) AS daily`,
      [like],
    );
    expect(rows[0]).toEqual({ events: formatUsd(expected), posts: formatUsd(expected), daily: formatUsd(expected) });
  });

  it('stores an event published twice once, and the rollups count it once', async () => {
    const persona = `${env.id}-twice`;
    const events: CostEvent[] = Array.from({ length: 500 }, (_, i) => ({
      event_id: randomUUID(), event_time: new Date(), cost_type: 'vector_db', amount: BigInt(1000 + i), currency: 'USD',
      persona_id: persona, post_id: `${persona}-post`, operation: 'query', service: 'test', correlation_id: null, request_id: null,
      llm_usage: null, compute_usage: null, vector_db_usage: { provider: 'generic', operation: 'query', units: 1 },
      price: { source: 'config', version: 'test', status: 'priced', unit_prices: {} }, metadata: {},
    }));
    const expected = events.reduce((s, e) => s + e.amount, 0n);
    await Promise.all(events.map((e) => tracker.publishEvent(e)));
    await waitFor(async () => (await env.pool.query('SELECT count(*)::int AS n FROM cost_events WHERE persona_id = $1', [persona])).rows[0].n === 500, { what: 'first copy stored' });
    await Promise.all(events.map((e) => tracker.publishEvent(e)));
    // A marker published after the duplicates proves they were consumed before we look.
    const marker = await tracker.trackVectorDbCost({ vectorOperation: 'query', units: 1, personaId: persona, postId: `${persona}-marker` });
    await waitFor(async () => (await env.pool.query('SELECT 1 FROM cost_events WHERE event_id = $1', [marker.eventId])).rowCount === 1, { what: 'marker stored' });
    const { rows } = await env.pool.query(
      `SELECT (SELECT count(*)::int FROM cost_events WHERE post_id = $1) AS n,
              (SELECT count(DISTINCT event_id)::int FROM cost_events WHERE post_id = $1) AS distinct_ids,
              (SELECT total_usd::text FROM post_costs WHERE post_id = $1) AS rollup,
              (SELECT event_count::int FROM post_costs WHERE post_id = $1) AS rollup_events`,
      [`${persona}-post`],
    );
    expect(rows[0]).toEqual({ n: 500, distinct_ids: 500, rollup: formatUsd(expected), rollup_events: 500 });
  });
});
