import Redis from 'ioredis';
import { RunningApi } from '../../api';
import { CostTracker } from '../../producers';
import { setting } from '../../src/config';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { waitFor } from '../../testkit/wait-for';
import { get, startTestApi, today } from './api-support';

describe('API cache: hits, then invalidation when the storage consumer commits new events', () => {
  let env: TestEnv;
  let api: RunningApi;
  let tracker: CostTracker;
  let redis: Redis;
  let persona: string;

  const stored = (post: string, n: number) =>
    waitFor(async () => (await env.pool.query('SELECT 1 FROM post_costs WHERE post_id = $1 AND event_count = $2', [post, n])).rowCount, { what: `${n} events of ${post} stored` });

  beforeAll(async () => {
    env = await createTestEnv('apicache');
    tracker = new CostTracker({ overrides: env.overrides });
    env.cleanup(() => tracker.close());
    // the storage role's invalidation listener and the API must share the cache prefix
    await startStorage(env, { API_CACHE_PREFIX: `test:${env.id}:` });
    api = await startTestApi(env);
    redis = new Redis(setting('REDIS_URL', env.overrides));
    env.cleanup(() => redis.quit());
    persona = `${env.id}-persona`;
  });
  afterAll(() => env.close());

  it('serves the post breakdown from Redis until a new event for the post commits', async () => {
    const post = `${env.id}-post`;
    await tracker.trackOpenAICost({ model: 'gpt-4o', inputTokens: 1000, outputTokens: 500, personaId: persona, postId: post });
    await stored(post, 1);

    const first = await get(api, `/costs/post/${post}`);
    expect(first.headers.get('x-cache')).toBe('miss');
    expect(first.body.total_cost).toBe('0.007500000');
    const second = await get(api, `/costs/post/${post}`);
    expect(second.headers.get('x-cache')).toBe('hit');
    expect(second.body).toEqual(first.body);
    const summary = await get(api, `/costs/post/${post}/summary`);
    expect(summary.body.total_cost).toBe('0.007500000');
    expect((await get(api, `/costs/post/${post}/summary`)).headers.get('x-cache')).toBe('hit');

    // a new event through the SDK → Kafka → storage consumer → commit → invalidation
    await tracker.trackVectorDbCost({ vectorOperation: 'query', units: 10, personaId: persona, postId: post });
    await stored(post, 2);
    const fresh = await waitFor(async () => {
      const r = await get(api, `/costs/post/${post}`);
      return r.body.total_cost === '0.007540000' ? r : undefined;
    }, { what: 'new total after the commit' });
    expect(fresh.headers.get('x-cache')).toBe('miss');
    expect(fresh.body.audit_trail).toHaveLength(2);
    expect((await get(api, `/costs/post/${post}`)).headers.get('x-cache')).toBe('hit');
    expect((await get(api, `/costs/post/${post}/summary`)).body.total_cost).toBe('0.007540000');
  });

  it('really answers a hit from Redis (a change made behind the cache is not seen until invalidation)', async () => {
    const post = `${env.id}-behind`;
    await tracker.trackVectorDbCost({ vectorOperation: 'upsert', units: 1, personaId: persona, postId: post });
    await stored(post, 1);
    expect((await get(api, `/costs/post/${post}/summary`)).body.total_cost).toBe('0.000002000');
    await env.pool.query('UPDATE cost_events SET amount_usd = 42 WHERE post_id = $1', [post]);
    const hit = await get(api, `/costs/post/${post}/summary`);
    expect(hit.headers.get('x-cache')).toBe('hit');
    expect(hit.body.total_cost).toBe('0.000002000');
    // the entry is stored with the TTL (300 s by default)
    const ttl = await redis.ttl(`test:${env.id}:e:post:${post}:s`);
    expect(ttl).toBeGreaterThan(290);
    expect(ttl).toBeLessThanOrEqual(300);
  });

  it("invalidates a persona breakdown that includes today when the persona's events commit", async () => {
    const path = `/costs/breakdown?start_date=${today()}&end_date=${today()}&persona_id=${persona}`;
    const before = await get(api, path);
    expect((await get(api, path)).headers.get('x-cache')).toBe('hit');
    const unfiltered = `/costs/breakdown?start_date=${today()}&end_date=${today()}`;
    await get(api, unfiltered);
    expect((await get(api, unfiltered)).headers.get('x-cache')).toBe('hit');

    const post = `${env.id}-later`;
    await tracker.trackInfrastructureCost({ cpuCores: '0.5', memoryGb: '1', durationMs: 60_000, personaId: persona, postId: post });
    await stored(post, 1);
    const after = await waitFor(async () => {
      const r = await get(api, path);
      return r.body.event_count === before.body.event_count + 1 ? r : undefined;
    }, { what: 'breakdown including the new event' });
    expect(after.headers.get('x-cache')).toBe('miss');
    const expected = (await env.pool.query("SELECT sum(total_usd)::text AS s FROM persona_daily_costs WHERE persona_id = $1 AND day = $2", [persona, today()])).rows[0].s;
    expect(after.body.total_cost).toBe(expected);
    expect((await get(api, unfiltered)).headers.get('x-cache')).toBe('miss');
  });
});
