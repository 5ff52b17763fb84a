import { intSetting, Overrides, setting } from '../src/config';
import { ConfigError } from '../src/errors';
import { parseTokens, TokenTable } from '../src/http/auth';

export interface IngestSettings {
  port: number;
  host: string;
  tokens: TokenTable;
  maxBatch: number;
  bodyLimitBytes: number;
  deliveryTimeoutMs: number;
  requestTimeoutMs: number;
  rateLimit: { max: number; anonymousMax: number; windowMs: number };
  redisUrl: string;
  redisPrefix: string;
  lingerMs: number;
  maxBatchEvents: number;
  maxBufferedEvents: number;
  producers: number;
}

export function ingestSettings(overrides: Overrides = {}): IngestSettings {
  const s: IngestSettings = {
    port: intSetting('INGEST_PORT', overrides, { max: 65535 }),
    host: setting('INGEST_HOST', overrides),
    tokens: parseTokens(overrides),
    maxBatch: intSetting('INGEST_MAX_BATCH', overrides, { min: 1, max: 100_000 }),
    bodyLimitBytes: intSetting('INGEST_BODY_LIMIT_BYTES', overrides, { min: 1024 }),
    deliveryTimeoutMs: intSetting('INGEST_DELIVERY_TIMEOUT_MS', overrides, { min: 1 }),
    requestTimeoutMs: intSetting('INGEST_REQUEST_TIMEOUT_MS', overrides, { min: 100 }),
    rateLimit: {
      max: intSetting('INGEST_RATE_LIMIT_MAX', overrides),
      anonymousMax: intSetting('INGEST_RATE_LIMIT_ANONYMOUS_MAX', overrides),
      windowMs: intSetting('INGEST_RATE_LIMIT_WINDOW_MS', overrides, { min: 1000 }),
    },
    redisUrl: setting('REDIS_URL', overrides),
    redisPrefix: setting('INGEST_REDIS_PREFIX', overrides),
    lingerMs: intSetting('INGEST_LINGER_MS', overrides),
    maxBatchEvents: intSetting('INGEST_MAX_BATCH_EVENTS', overrides, { min: 1 }),
    maxBufferedEvents: intSetting('INGEST_MAX_BUFFERED_EVENTS', overrides, { min: 1 }),
    producers: intSetting('INGEST_PRODUCERS', overrides, { min: 1, max: 16 }),
  };
  if (s.deliveryTimeoutMs >= s.requestTimeoutMs) {
    throw new ConfigError('INGEST_DELIVERY_TIMEOUT_MS must be below INGEST_REQUEST_TIMEOUT_MS, so a request waiting for Kafka is still answered (503)');
  }
  if (s.maxBufferedEvents < s.maxBatch) throw new ConfigError('INGEST_MAX_BUFFERED_EVENTS must be at least INGEST_MAX_BATCH, so one request always fits in the buffer');
  return s;
}
