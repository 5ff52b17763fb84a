import { intSetting, Overrides, setting } from '../src/config';
import { ConfigError } from '../src/errors';
import { usdToNano } from '../src/money';
import { parseTokens, TokenTable } from '../src/http/auth';
import { CursorSigner } from './cursor';

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
  /** null: /metrics is served by the process's ops server on METRICS_PORT (role mode). */
  metricsPort: number | null;
  cursors: CursorSigner;
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  connectionTimeoutMs: number;
  maxHeaderBytes: number;
  rateLimit: { max: number; anonymousMax: number; windowMs: number };
  retryAfterSeconds: number;
  cacheMaxEntryBytes: number;
  cacheRedisUrl: string;
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
  const tokens = parseTokens(overrides);
  if (intSetting('API_HEADERS_TIMEOUT_MS', overrides) > intSetting('API_REQUEST_TIMEOUT_MS', overrides)) {
    throw new ConfigError('API_HEADERS_TIMEOUT_MS must not exceed API_REQUEST_TIMEOUT_MS (the request timeout covers headers and body)');
  }
  return {
    port: intSetting('API_PORT', overrides, { max: 65535 }),
    host: setting('API_HOST', overrides),
    tokens,
    cacheTtlSeconds: intSetting('API_CACHE_TTL_SECONDS', overrides, { min: 1 }),
    cachePrefix: setting('API_CACHE_PREFIX', overrides),
    redisTimeoutMs: intSetting('API_REDIS_TIMEOUT_MS', overrides, { min: 1 }),
    targetCostPerPostNano: target,
    maxRangeDays: intSetting('API_MAX_RANGE_DAYS', overrides, { min: 1 }),
    defaultPageLimit: intSetting('API_DEFAULT_PAGE_LIMIT', overrides, { min: 1, max: MAX_PAGE_LIMIT }),
    statementTimeoutMs: intSetting('API_STATEMENT_TIMEOUT_MS', overrides, { min: 1 }),
    metricsPort: setting('API_METRICS_PORT', overrides) === '' ? null : intSetting('API_METRICS_PORT', overrides, { max: 65535 }),
    cursors: CursorSigner.fromSettings(setting('API_CURSOR_SECRET', overrides), [...tokens.keys()]),
    bodyLimitBytes: intSetting('API_BODY_LIMIT_BYTES', overrides, { min: 256 }),
    requestTimeoutMs: intSetting('API_REQUEST_TIMEOUT_MS', overrides, { min: 100 }),
    headersTimeoutMs: intSetting('API_HEADERS_TIMEOUT_MS', overrides, { min: 100 }),
    keepAliveTimeoutMs: intSetting('API_KEEP_ALIVE_TIMEOUT_MS', overrides, { min: 100 }),
    connectionTimeoutMs: intSetting('API_CONNECTION_TIMEOUT_MS', overrides, { min: 100 }),
    maxHeaderBytes: intSetting('API_MAX_HEADER_BYTES', overrides, { min: 1024 }),
    rateLimit: {
      max: intSetting('API_RATE_LIMIT_MAX', overrides),
      anonymousMax: intSetting('API_RATE_LIMIT_ANONYMOUS_MAX', overrides),
      windowMs: intSetting('API_RATE_LIMIT_WINDOW_MS', overrides, { min: 1000 }),
    },
    retryAfterSeconds: intSetting('API_RETRY_AFTER_SECONDS', overrides, { min: 1, max: 3600 }),
    cacheMaxEntryBytes: intSetting('API_CACHE_MAX_ENTRY_BYTES', overrides, { min: 1024 }),
    cacheRedisUrl: cacheRedisUrl(overrides),
  };
}

/** The Redis of the API cache and rate-limit counters: API_CACHE_REDIS_URL, else REDIS_URL. */
export function cacheRedisUrl(overrides: Overrides = {}): string {
  return setting('API_CACHE_REDIS_URL', overrides) || setting('REDIS_URL', overrides);
}
