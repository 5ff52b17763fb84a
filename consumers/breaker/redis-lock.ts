import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { DependencyError } from '../../src/errors';

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` holding a short Redis lock, so breaker instances (the consumer, its tick, the admin
 * API) never interleave read-modify-write of one persona's state. The lock expires by itself if
 * its holder dies.
 */
export async function withLock<T>(redis: Redis, key: string, fn: () => Promise<T>, opts: { ttlMs?: number; waitMs?: number } = {}): Promise<T> {
  const token = randomUUID();
  const ttlMs = opts.ttlMs ?? 10_000;
  const deadline = Date.now() + (opts.waitMs ?? 15_000);
  for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
    if ((await redis.set(key, token, 'PX', ttlMs, 'NX')) === 'OK') break;
    if (Date.now() > deadline) throw new DependencyError('redis', `lock ${key} still held after ${opts.waitMs ?? 15_000} ms`);
    await sleep(delay);
  }
  try {
    return await fn();
  } finally {
    await redis.eval(RELEASE, 1, key, token).catch(() => undefined);
  }
}
