import Redis from 'ioredis';
import { Overrides, setting } from '../config';
import type { Logger } from '../logging';
import { redisTls } from './tls';

/** A role's Redis client: REDIS_URL with its TLS settings, commands failing after 3 reconnect attempts, errors logged (not thrown). */
export function roleRedis(overrides: Overrides, log: Logger): Redis {
  const redis = new Redis(setting('REDIS_URL', overrides), { ...redisTls(overrides), maxRetriesPerRequest: 3 });
  redis.on('error', (err) => log.warn({ err: err.message }, 'Redis error'));
  return redis;
}
