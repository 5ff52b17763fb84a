import { durationSetting, intSetting, Overrides, setting, usdSetting } from '../src/config';
import { ConfigError } from '../src/errors';
import { parseTokens, TokenTable } from '../src/http/auth';
import { CursorSigner } from './cursor';

export interface ApiSettings {
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

/** The query API's settings: explicit → environment → default (src/config/defaults.ts). */
export function apiSettings(overrides: Overrides = {}): ApiSettings {
  const tokens = parseTokens(overrides);
  const requestTimeoutMs = durationSetting('API_REQUEST_TIMEOUT_MS', 'ms', overrides, { min: 100 });
  const headersTimeoutMs = durationSetting('API_HEADERS_TIMEOUT_MS', 'ms', overrides, { min: 100 });
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(`API_HEADERS_TIMEOUT_MS (${headersTimeoutMs}) must not exceed API_REQUEST_TIMEOUT_MS (${requestTimeoutMs}): the request timeout covers headers and body; lower the first or raise the second`);
  }
  return {
    port: intSetting('API_PORT', overrides, { max: 65535 }),
    host: setting('API_HOST', overrides),
    tokens,
    cacheTtlSeconds: intSetting('API_CACHE_TTL_SECONDS', overrides, { min: 1 }),
    cachePrefix: setting('API_CACHE_PREFIX', overrides),
    redisTimeoutMs: durationSetting('API_REDIS_TIMEOUT_MS', 'ms', overrides, { min: 1 }),
    targetCostPerPostNano: usdSetting('API_TARGET_COST_PER_POST_USD', overrides, { positive: true }),
    maxRangeDays: intSetting('API_MAX_RANGE_DAYS', overrides, { min: 1 }),
    defaultPageLimit: intSetting('API_DEFAULT_PAGE_LIMIT', overrides, { min: 1, max: MAX_PAGE_LIMIT }),
    statementTimeoutMs: durationSetting('API_STATEMENT_TIMEOUT_MS', 'ms', overrides, { min: 1 }),
    metricsPort: setting('API_METRICS_PORT', overrides) === '' ? null : intSetting('API_METRICS_PORT', overrides, { max: 65535 }),
    cursors: CursorSigner.fromSettings(setting('API_CURSOR_SECRET', overrides), [...tokens.keys()]),
    bodyLimitBytes: intSetting('API_BODY_LIMIT_BYTES', overrides, { min: 256 }),
    requestTimeoutMs,
    headersTimeoutMs,
    keepAliveTimeoutMs: durationSetting('API_KEEP_ALIVE_TIMEOUT_MS', 'ms', overrides, { min: 100 }),
    connectionTimeoutMs: durationSetting('API_CONNECTION_TIMEOUT_MS', 'ms', overrides, { min: 100 }),
    maxHeaderBytes: intSetting('API_MAX_HEADER_BYTES', overrides, { min: 1024 }),
    rateLimit: {
      max: intSetting('API_RATE_LIMIT_MAX', overrides),
      anonymousMax: intSetting('API_RATE_LIMIT_ANONYMOUS_MAX', overrides),
      windowMs: durationSetting('API_RATE_LIMIT_WINDOW_MS', 'ms', overrides, { min: 1000 }),
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
