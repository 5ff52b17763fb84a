import Redis from 'ioredis';
import { setting } from '../../src/config';
import { DependencyError } from '../../src/errors';
import { acquireRedisLock, keepRedisLock, releaseRedisLock, tryAcquireRedisLock } from '../../src/redis/lock';
import { uniqueId } from '../../testkit/fixtures';

describe('src/redis/lock on the real Redis', () => {
  const redis = new Redis(setting('REDIS_URL'));
  const key = () => `test:lock:${uniqueId('lk')}`;
  afterAll(() => redis.quit());

  it('waits for a held lock and takes it once released; only the holder releases', async () => {
    const k = key();
    const a = await acquireRedisLock(redis, k, { ttlMs: 5000, waitMs: 1000 });
    const b = acquireRedisLock(redis, k, { ttlMs: 5000, waitMs: 2000, token: 'b' });
    await releaseRedisLock(redis, k, 'not-a');
    expect(await redis.get(k)).toBe(a);
    setTimeout(() => void releaseRedisLock(redis, k, a), 200);
    expect(await b).toBe('b');
    await expect(acquireRedisLock(redis, k, { ttlMs: 5000, waitMs: 100 })).rejects.toBeInstanceOf(DependencyError);
  });

  it('stops waiting with null when the value held says the work is settled', async () => {
    const k = key();
    await redis.set(k, 'claimed:other', 'PX', 5000);
    const waiting = tryAcquireRedisLock(redis, k, { ttlMs: 5000, waitMs: 3000, firstPollMs: 20, settled: (v) => v === 'delivered' });
    setTimeout(() => void redis.set(k, 'delivered', 'EX', 60), 100);
    const started = Date.now();
    expect(await waiting).toBeNull();
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('a kept lock outlives its TTL until stopped, and lapses after', async () => {
    const k = key();
    const token = await acquireRedisLock(redis, k, { ttlMs: 300, waitMs: 100 });
    const hold = keepRedisLock(redis, k, token, 300, (err) => { throw err; });
    await new Promise((r) => setTimeout(r, 800));
    expect(await redis.get(k)).toBe(token);
    hold.stop();
    await new Promise((r) => setTimeout(r, 500));
    expect(await redis.get(k)).toBeNull();
  });
});
