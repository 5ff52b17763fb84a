import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { DependencyError } from '../errors';
import { sleep } from '../retry';

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

export interface RedisLockOptions {
  /** The lock lapses by itself this long after it was taken, so a holder that dies never blocks for good. */
  ttlMs: number;
  /** Longest to wait for a lock another holder has; past it, acquiring fails with a DependencyError. */
  waitMs: number;
  /** Value stored under the key while held (default: a random UUID). */
  token?: string;
  /** Poll delay while the lock is held elsewhere: from `firstPollMs`, doubling up to `maxPollMs`. */
  firstPollMs?: number;
  maxPollMs?: number;
}

/**
 * Takes `key` with SET NX PX, polling while another holder has it; resolves to the token held, or
 * to null once `settled` says the value found under the key ends the wait (a key that outlives
 * its lock as the record of finished work, e.g. `delivered`).
 */
export async function tryAcquireRedisLock(redis: Redis, key: string, o: RedisLockOptions & { settled?: (held: string) => boolean }): Promise<string | null> {
  const token = o.token ?? randomUUID();
  const deadline = Date.now() + o.waitMs;
  const maxPollMs = o.maxPollMs ?? 50;
  for (let delay = o.firstPollMs ?? 2; ; delay = Math.min(delay * 2, maxPollMs)) {
    if ((await redis.set(key, token, 'PX', o.ttlMs, 'NX')) === 'OK') return token;
    if (o.settled) {
      const held = await redis.get(key);
      if (held !== null && o.settled(held)) return null;
    }
    if (Date.now() > deadline) throw new DependencyError('redis', `lock ${key} still held after ${o.waitMs} ms`);
    await sleep(delay);
  }
}

/** Takes `key` with SET NX PX, polling while another holder has it; resolves to the token held. */
export async function acquireRedisLock(redis: Redis, key: string, o: RedisLockOptions): Promise<string> {
  return (await tryAcquireRedisLock(redis, key, { ...o, settled: undefined }))!;
}

/** Releases `key` only if it still holds `token` (a lapsed lock taken by another is left alone). */
export async function releaseRedisLock(redis: Redis, key: string, token: string): Promise<void> {
  await redis.eval(RELEASE, 1, key, token);
}

/**
 * Renews the lock every third of `ttlMs` while it still holds `token`, so a holder that waits long
 * (for a slot, a backoff) never sees it lapse under it; stop() ends the renewal, not the lock.
 */
export function keepRedisLock(redis: Redis, key: string, token: string, ttlMs: number, onError: (err: Error) => void): { stop(): void } {
  const timer = setInterval(() => {
    redis.eval(RENEW, 1, key, token, ttlMs).catch(onError);
  }, Math.max(50, Math.floor(ttlMs / 3)));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

/** Runs `fn` holding the lock on `key` (by default 10 s to live, waiting up to 15 s for it). */
export async function withRedisLock<T>(redis: Redis, key: string, fn: () => Promise<T>, opts: Partial<RedisLockOptions> = {}): Promise<T> {
  const token = await acquireRedisLock(redis, key, { ttlMs: 10_000, waitMs: 15_000, ...opts });
  try {
    return await fn();
  } finally {
    await releaseRedisLock(redis, key, token).catch(() => undefined);
  }
}
