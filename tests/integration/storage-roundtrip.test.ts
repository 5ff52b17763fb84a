import { CostTracker } from '../../producers';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { trackerFor } from '../../testkit/in-process';
import { waitFor } from '../../testkit/wait-for';

describe('SDK → Kafka → storage consumer → Postgres', () => {
  let env: TestEnv;
  let tracker: CostTracker;

  beforeAll(async () => {
    env = await createTestEnv('roundtrip');
    tracker = trackerFor(env);
    await startStorage(env);
  });
  afterAll(() => env.close());

  it('stores each kind of cost with its exact price and keeps the post rollup equal to the events', async () => {
    const post = `${env.id}-post`;
    const persona = `${env.id}-persona`;
    const a = await tracker.trackOpenAICost({ model: 'gpt-4o', inputTokens: 1000, outputTokens: 500, operation: 'hook_generation', personaId: persona, postId: post });
    const b = await tracker.trackInfrastructureCost({ cpuCores: '0.5', memoryGb: '1', durationMs: 60_000, personaId: persona, postId: post });
    const c = await tracker.trackVectorDbCost({ vectorOperation: 'query', units: 10, personaId: persona, postId: post });
    expect([a.amountUsd, b.amountUsd, c.amountUsd]).toEqual(['0.007500000', '0.000334042', '0.000040000']);

    const row = await waitFor(async () => (await env.pool.query('SELECT * FROM post_costs WHERE post_id = $1 AND event_count = 3', [post])).rows[0], { what: 'post rollup' });
    expect(row).toMatchObject({ total_usd: '0.007874042', openai_api_usd: '0.007500000', kubernetes_usd: '0.000334042', vector_db_usd: '0.000040000' });
    const events = await env.pool.query('SELECT sum(amount_usd)::text AS s, count(*)::int AS n FROM cost_events WHERE post_id = $1', [post]);
    expect(events.rows[0]).toEqual({ s: '0.007874042', n: 3 });
    const llm = await env.pool.query('SELECT model, input_tokens, output_tokens, price_source, unit_prices FROM cost_events WHERE event_id = $1', [a.eventId]);
    expect(llm.rows[0]).toMatchObject({ model: 'gpt-4o', input_tokens: '1000', output_tokens: '500', price_source: '@pydantic/genai-prices', unit_prices: { input_mtok: '2.5', output_mtok: '10' } });
  });

  it('flush() covers track calls made before it, even ones not awaited', async () => {
    const post = `${env.id}-flushed`;
    const results: string[] = [];
    for (let i = 0; i < 300; i++) void tracker.trackVectorDbCost({ vectorOperation: 'query', units: 1, personaId: 'p', postId: post }).then((t) => results.push(t.eventId));
    await tracker.flush();
    expect(results).toHaveLength(300);
    await waitFor(async () => (await env.pool.query('SELECT count(*)::int AS n FROM cost_events WHERE post_id = $1', [post])).rows[0].n === 300, { what: '300 stored' });
  });

  it('flags a model with no known price instead of pricing it at a silent $0', async () => {
    const post = `${env.id}-unknown`;
    const r = await tracker.trackOpenAICost({ model: 'model-nobody-prices', inputTokens: 10, outputTokens: 10, personaId: 'p', postId: post });
    expect(r.priceStatus).toBe('unknown_model');
    const row = await waitFor(async () => (await env.pool.query('SELECT price_status FROM cost_events WHERE event_id = $1', [r.eventId])).rows[0], { what: 'stored event' });
    expect(row.price_status).toBe('unknown_model');
    const rollup = await env.pool.query('SELECT unpriced_event_count FROM post_costs WHERE post_id = $1', [post]);
    expect(rollup.rows[0].unpriced_event_count).toBe('1');
  });
});
