import { durationSetting, enumSetting, intSetting, Overrides, setting } from '../src/config';
import { Compression, COMPRESSIONS } from '../src/kafka/codecs';

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

/** The SDK's CostGuard: explicit → environment → default (src/config/defaults.ts). */
export function costGuardSettings(overrides: Overrides = {}): CostGuardSettings {
  return {
    redisUrl: setting('REDIS_URL', overrides),
    failurePolicy: enumSetting('GUARD_REDIS_FAILURE_POLICY', ['open', 'closed'] as const, overrides),
    cacheTtlMs: durationSetting('GUARD_CACHE_TTL_MS', 'ms', overrides),
    maxWaitMs: durationSetting('GUARD_MAX_WAIT_MS', 'ms', overrides),
    burstSeconds: intSetting('GUARD_BURST_SECONDS', overrides, { min: 1 }),
    redisTimeoutMs: durationSetting('GUARD_REDIS_TIMEOUT_MS', 'ms', overrides, { min: 1 }),
  };
}

/** The SDK's batching producer (CostTracker). */
export interface TrackerSettings {
  lingerMs: number;
  maxBatchEvents: number;
  maxBufferedEvents: number;
  compression: Compression;
  deliveryTimeoutMs: number;
}

export function trackerSettings(overrides: Overrides = {}): TrackerSettings {
  return {
    lingerMs: durationSetting('SDK_LINGER_MS', 'ms', overrides),
    maxBatchEvents: intSetting('SDK_MAX_BATCH_EVENTS', overrides, { min: 1 }),
    maxBufferedEvents: intSetting('SDK_MAX_BUFFERED_EVENTS', overrides, { min: 1 }),
    compression: enumSetting('SDK_COMPRESSION', COMPRESSIONS, overrides),
    deliveryTimeoutMs: durationSetting('SDK_DELIVERY_TIMEOUT_MS', 'ms', overrides, { min: 1 }),
  };
}
