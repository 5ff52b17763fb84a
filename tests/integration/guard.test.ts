import Redis from 'ioredis';
import { CostGuard, GuardUnavailableError, PausedError, ThrottledError } from '../../producers';
import { CONTROL_CHANNEL, CONTROL_KEY_PREFIX, ControlState, scopeSubject } from '../../src/contracts/controls';
import { setting } from '../../src/config';
import { registry } from '../../src/metrics';
import { uniqueId } from '../../testkit/fixtures';
import { waitFor } from '../../testkit/wait-for';


function control(persona: string, patch: Partial<ControlState>): ControlState {
  return {
    persona_id: persona, level: 'throttle', requests_per_minute: 60, model_map: {}, paused_until: null, probing: false, manual: false,
    reason: 'test', anomaly_id: null, updated_at: new Date().toISOString(), expires_at: new Date(Date.now() + 60_000).toISOString(), ...patch,
  };
}

describe('CostGuard on real Redis', () => {
  const redis = new Redis(setting('REDIS_URL'));
  const guards: CostGuard[] = [];
  afterAll(async () => {
    for (const g of guards) await g.close();
    redis.disconnect();
  });
  const newGuard = async (settings = {}) => {
    const g = await new CostGuard({ settings: { cacheTtlMs: 60_000, ...settings } }).start();
    guards.push(g);
    return g;
  };

  it('shares one token bucket between guards (replicas), waits for a token within its bound and refuses beyond it', async () => {
    const persona = uniqueId('bucket');
    await redis.set(CONTROL_KEY_PREFIX + persona, JSON.stringify(control(persona, { requests_per_minute: 60 })), 'PX', 60_000);
    const [a, b] = [await newGuard({ burstSeconds: 2 }), await newGuard({ burstSeconds: 2 })];
    await a.acquire(persona, 'gpt-4o', { maxWaitMs: 0 });
    await b.acquire(persona, 'gpt-4o', { maxWaitMs: 0 }); // burst of 2 shared
    await expect(a.acquire(persona, 'gpt-4o', { maxWaitMs: 0 })).rejects.toBeInstanceOf(ThrottledError);
    const waited = await b.acquire(persona, 'gpt-4o', { maxWaitMs: 1500 });
    expect(waited.waitedMs).toBeGreaterThan(500);
  });

  it('enforces the control of a service or tag scope on every persona whose call names it', async () => {
    const service = uniqueId('svc');
    const tag = `campaign=${uniqueId('spring')}`;
    const until = new Date(Date.now() + 60_000).toISOString();
    await redis.set(CONTROL_KEY_PREFIX + scopeSubject('service', service), JSON.stringify(control(scopeSubject('service', service), { level: 'pause', paused_until: until })), 'PX', 60_000);
    await redis.set(CONTROL_KEY_PREFIX + scopeSubject('tag', tag), JSON.stringify(control(scopeSubject('tag', tag), { level: 'pause', paused_until: until })), 'PX', 60_000);
    const g = await newGuard();
    for (const persona of [uniqueId('ann'), uniqueId('bob')]) {
      await expect(g.acquire(persona, 'gpt-4o', { maxWaitMs: 0, service })).rejects.toBeInstanceOf(PausedError);
      await expect(g.acquire(persona, 'gpt-4o', { maxWaitMs: 0, tags: { campaign: tag.slice('campaign='.length) } })).rejects.toBeInstanceOf(PausedError);
      // A call outside the scopes goes ahead.
      expect((await g.acquire(persona, 'gpt-4o', { maxWaitMs: 0, service: `${service}-other`, tags: { campaign: 'autumn' } })).level).toBe('normal');
    }
  });

  it('drops its cached control on a pub/sub notice, well within a second', async () => {
    const persona = uniqueId('notice');
    const g = await newGuard();
    expect((await g.acquire(persona, 'gpt-4o')).level).toBe('normal'); // cached as "no control" for 60 s
    const t0 = Date.now();
    await redis.set(CONTROL_KEY_PREFIX + persona, JSON.stringify(control(persona, { level: 'switch_model', requests_per_minute: 600, model_map: { 'gpt-4o': 'gpt-3.5-turbo-0125' } })), 'PX', 60_000);
    await redis.publish(CONTROL_CHANNEL, persona);
    await waitFor(async () => (await g.acquire(persona, 'gpt-4o')).model === 'gpt-3.5-turbo-0125', { what: 'switch seen', timeoutMs: 1000, intervalMs: 10 });
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('fails open by default when Redis is unreachable, fails closed when configured, and says so in metrics', async () => {
    const open = await newGuard({ redisUrl: 'redis://127.0.0.1:1', redisTimeoutMs: 100 });
    const decision = await open.acquire('p', 'gpt-4o');
    expect(decision).toMatchObject({ model: 'gpt-4o', degraded: true });
    const closed = await newGuard({ redisUrl: 'redis://127.0.0.1:1', redisTimeoutMs: 100, failurePolicy: 'closed' });
    await expect(closed.acquire('p', 'gpt-4o')).rejects.toBeInstanceOf(GuardUnavailableError);
    const text = await registry.metrics();
    expect(text).toMatch(/finops_guard_decisions_total\{decision="fail_open"\} [1-9]/);
    expect(text).toMatch(/finops_guard_decisions_total\{decision="fail_closed"\} [1-9]/);
    expect(text).toMatch(/finops_guard_redis_up 0/);
  });
});
