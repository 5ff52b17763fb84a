import { enumSetting, intSetting, Overrides, setting } from '../src/config';

export type RedisFailurePolicy = 'open' | 'closed';

export interface CostGuardSettings {
  redisUrl: string;
  /** open: allow calls (with the last known control, if any); closed: refuse them. */
  failurePolicy: RedisFailurePolicy;
  cacheTtlMs: number;
  maxWaitMs: number;
  burstSeconds: number;
  redisTimeoutMs: number;
}

export function costGuardSettings(overrides: Overrides = {}): CostGuardSettings {
  return {
    redisUrl: setting('REDIS_URL', overrides),
    failurePolicy: enumSetting('GUARD_REDIS_FAILURE_POLICY', ['open', 'closed'] as const, overrides),
    cacheTtlMs: intSetting('GUARD_CACHE_TTL_MS', overrides),
    maxWaitMs: intSetting('GUARD_MAX_WAIT_MS', overrides),
    burstSeconds: intSetting('GUARD_BURST_SECONDS', overrides, { min: 1 }),
    redisTimeoutMs: intSetting('GUARD_REDIS_TIMEOUT_MS', overrides, { min: 1 }),
  };
}
