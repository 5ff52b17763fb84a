import { intSetting, Overrides, setting } from '../src/config';
import { ConfigError } from '../src/errors';
import { usdToNano } from '../src/money';
import { parseTokens, TokenTable } from './auth';

export interface ApiConfig {
  port: number;
  host: string;
  tokens: TokenTable;
  cacheTtlSeconds: number;
  cachePrefix: string;
  redisTimeoutMs: number;
  targetCostPerPostNano: bigint;
  maxRangeDays: number;
  defaultPageLimit: number;
  statementTimeoutMs: number;
}

export const MAX_PAGE_LIMIT = 1000;

export function loadApiConfig(overrides: Overrides = {}): ApiConfig {
  let target: bigint;
  try {
    target = usdToNano(setting('API_TARGET_COST_PER_POST_USD', overrides));
  } catch (err) {
    throw new ConfigError(`API_TARGET_COST_PER_POST_USD must be a USD decimal with at most 9 decimals (${(err as Error).message})`);
  }
  if (target <= 0n) throw new ConfigError('API_TARGET_COST_PER_POST_USD must be positive');
  return {
    port: intSetting('API_PORT', overrides, { max: 65535 }),
    host: setting('API_HOST', overrides),
    tokens: parseTokens(overrides),
    cacheTtlSeconds: intSetting('API_CACHE_TTL_SECONDS', overrides, { min: 1 }),
    cachePrefix: setting('API_CACHE_PREFIX', overrides),
    redisTimeoutMs: intSetting('API_REDIS_TIMEOUT_MS', overrides, { min: 1 }),
    targetCostPerPostNano: target,
    maxRangeDays: intSetting('API_MAX_RANGE_DAYS', overrides, { min: 1 }),
    defaultPageLimit: intSetting('API_DEFAULT_PAGE_LIMIT', overrides, { min: 1, max: MAX_PAGE_LIMIT }),
    statementTimeoutMs: intSetting('API_STATEMENT_TIMEOUT_MS', overrides, { min: 1 }),
  };
}
