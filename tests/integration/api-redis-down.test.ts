import { freePort } from '../../testkit/pipeline-settings';
import { ChildProcess, spawn } from 'node:child_process';
import Redis from 'ioredis';
import { RunningApi } from '../../api';
import { CostTracker } from '../../producers';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { waitFor } from '../../testkit/wait-for';
import { get, startTestApi, today } from './api-support';


/** A throwaway redis-server of our own (the shared one is never stopped). */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  await waitFor(async () => {
    if (probe.status !== 'ready') await probe.connect().catch(() => undefined);
    return (await probe.ping()) === 'PONG';
  }, { what: `redis-server on ${port}` });
  probe.disconnect();
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe('API with Redis stopped: correct answers from Postgres, /ready degraded but serving', () => {
  let env: TestEnv;
  let api: RunningApi;
  let tracker: CostTracker;
  let redisPort: number;
  let redisProc: ChildProcess;
  const persona = () => `${env.id}-persona`;
  const stored = (post: string, n: number) =>
    waitFor(async () => (await env.pool.query('SELECT 1 FROM post_costs WHERE post_id = $1 AND event_count = $2', [post, n])).rowCount, { what: `${n} events of ${post} stored` });

  beforeAll(async () => {
    redisPort = await freePort();
    redisProc = await startRedis(redisPort);
    env = await createTestEnv('apiredisdown', { REDIS_URL: `redis://127.0.0.1:${redisPort}` });
    env.cleanup(() => stopRedis(redisProc));
    tracker = new CostTracker({ overrides: env.overrides });
    env.cleanup(() => tracker.close());
    await startStorage(env, { API_CACHE_PREFIX: `test:${env.id}:` });
    api = await startTestApi(env);
  });
  afterAll(() => env.close());

  it('keeps answering exactly (and fresh) while Redis is down, then uses the cache again when it is back', async () => {
    const post = `${env.id}-post`;
    await tracker.trackOpenAICost({ model: 'gpt-4o', inputTokens: 1000, outputTokens: 500, personaId: persona(), postId: post });
    await stored(post, 1);
    await get(api, `/costs/post/${post}`);
    expect((await get(api, `/costs/post/${post}`)).headers.get('x-cache')).toBe('hit');

    await stopRedis(redisProc);
    const ready = await waitFor(async () => {
      const r = await get(api, '/ready', null);
      return r.body.degraded === true ? r : undefined;
    }, { what: '/ready to report Redis degraded' });
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ready (degraded)', checks: { postgres: 'ok', redis: expect.stringMatching(/^degraded: .*serving from Postgres/) } });

    const t0 = Date.now();
    const down = await get(api, `/costs/post/${post}`);
    expect(Date.now() - t0).toBeLessThan(1000); // fails fast, no waiting on Redis
    expect(down.status).toBe(200);
    expect(down.headers.get('x-cache')).toBe('bypass');
    expect(down.body.total_cost).toBe('0.007500000');

    // a new event committed while Redis is down is visible at once (no cache to be stale)
    await tracker.trackVectorDbCost({ vectorOperation: 'query', units: 10, personaId: persona(), postId: post });
    await stored(post, 2);
    expect((await get(api, `/costs/post/${post}`)).body.total_cost).toBe('0.007540000');
    expect((await get(api, `/costs/post/${post}/summary`)).body).toMatchObject({ total_cost: '0.007540000', cost_efficiency_rating: 'excellent' });
    const bd = await get(api, `/costs/breakdown?start_date=${today()}&end_date=${today()}&persona_id=${persona()}`);
    expect(bd).toMatchObject({ status: 200, body: { total_cost: '0.007540000', event_count: 2 } });
    expect((await get(api, '/anomalies?limit=1')).status).toBe(200);

    // Redis comes back (empty, as a restarted cache would be): the API caches again, and never
    // serves the pre-outage entry (the lost invalidation is made good by the epoch token).
    redisProc = await startRedis(redisPort);
    const again = await waitFor(async () => {
      const r = await get(api, `/costs/post/${post}`);
      return r.headers.get('x-cache') === 'hit' ? r : undefined;
    }, { what: 'cache hits after Redis returns' });
    expect(again.body.total_cost).toBe('0.007540000');
    expect((await get(api, '/ready', null)).body).toMatchObject({ status: 'ready', degraded: false });
  });

  it('starts and serves with Redis unreachable from the outset (closed port)', async () => {
    const closed = await freePort();
    const cold = await startTestApi(env, { REDIS_URL: `redis://127.0.0.1:${closed}` });
    const post = `${env.id}-post`;
    const r = await get(cold, `/costs/post/${post}`);
    expect(r).toMatchObject({ status: 200, body: { total_cost: '0.007540000' } });
    expect(r.headers.get('x-cache')).toBe('bypass');
    expect((await get(cold, '/ready', null))).toMatchObject({ status: 200, body: { degraded: true } });
  });
});
