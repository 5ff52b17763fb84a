import Redis from 'ioredis';
import { Logger } from '../logging';
import type { Overrides } from '../config';
import { redisTls } from './tls';

/**
 * A Redis client that fails fast instead of queueing: while Redis is unreachable every command
 * rejects at once (no offline queue, no per-request retries, a short command timeout), so callers
 * fall back to Postgres without waiting. It keeps reconnecting in the background.
 */
export function createFailFastRedis(url: string, timeoutMs: number, log: Logger, name: string, overrides: Overrides = {}): Redis {
  const redis = new Redis(url, {
    ...redisTls(overrides, url),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: timeoutMs,
    connectTimeout: 1000,
    connectionName: name,
    retryStrategy: (times) => Math.min(100 * times, 2000),
  });
  let lastWarn = 0;
  redis.on('error', (err) => {
    // An outage produces one error per reconnect attempt; log at most every 10 s.
    if (Date.now() - lastWarn > 10_000) {
      lastWarn = Date.now();
      log.warn({ err: err.message }, 'Redis unavailable; serving without cache');
    }
  });
  return redis;
}

/** Resolves when the client is connected, or after `ms` (the caller then runs degraded). */
export async function waitReady(redis: Redis, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      redis.off('ready', onReady);
      resolve(false);
    }, ms);
    const onReady = () => {
      clearTimeout(timer);
      resolve(true);
    };
    redis.once('ready', onReady);
  });
}
