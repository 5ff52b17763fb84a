import Redis from 'ioredis';
import type { Pool } from 'pg';
import type { FastifyInstance } from 'fastify';
import { databaseUrl, Overrides, setting } from '../src/config';
import { redisTls } from '../src/redis/tls';
import type { ControlAdmin } from '../src/contracts/controls';
import { createPool } from '../src/db/pool';
import { logger } from '../src/logging';
import { buildApp } from './app';
import { ApiCache } from './cache';
import { apiSettings } from './settings';
import { createFailFastRedis, waitReady } from '../src/redis/fail-fast';
import { OpsServer } from '../src/http/ops-server';
import type { ApiContext } from './context';

export interface RunningApi {
  app: FastifyInstance;
  port: number;
  url: string;
  /** Base URL of the API's own /metrics listener; null when the process's ops server serves /metrics. */
  metricsUrl: string | null;
  ctx: ApiContext;
  close(): Promise<void>;
}

/** Builds a ControlAdmin on the API's own control-state Redis client and pool (app/roles.ts passes the breaker's). */
export type ControlAdminFactory = (deps: { redis: Redis; pool: Pool; overrides: Overrides }) => ControlAdmin | Promise<ControlAdmin>;

export interface StartOptions {
  /** The controls behind /controls: an admin, or a factory of one; absent or null, those routes answer 503. */
  controls?: ControlAdmin | ControlAdminFactory | null;
  listen?: boolean;
  /** The port the process's ops server already serves /metrics on (role mode): no second listener there. */
  sharedMetricsPort?: number;
}

/** Opens the API's connections, builds the app and listens on API_HOST:API_PORT. */
export async function startApi(overrides: Overrides = {}, opts: StartOptions = {}): Promise<RunningApi> {
  const log = logger('api');
  const config = apiSettings(overrides);
  if (config.tokens.size === 0) log.warn('no API tokens configured (API_TOKENS, API_READ_TOKENS, API_OPERATOR_TOKENS, API_INGEST_TOKENS): every authenticated endpoint answers 401');
  // Every API query is bounded: statement_timeout is set per connection through libpq options.
  const dbUrl = new URL(databaseUrl('api', overrides));
  dbUrl.searchParams.set('options', `-c statement_timeout=${config.statementTimeoutMs}`);
  const pool = createPool({ ...overrides, API_DATABASE_URL: dbUrl.toString() }, 'finops-api', 'api');
  const redisUrl = setting('REDIS_URL', overrides);
  const redis = createFailFastRedis(config.cacheRedisUrl, config.redisTimeoutMs, log, 'finops-api-cache', overrides);
  if (!(await waitReady(redis, 2000))) log.warn('Redis not reachable at start; serving from Postgres until it is');
  let controlsRedis: Redis | undefined;
  let controls: ControlAdmin | null = null;
  if (typeof opts.controls === 'function') {
    // Control state must be read and written, not skipped, so this client queues briefly through a
    // reconnect; an outage surfaces within seconds as an error the API answers with 503.
    controlsRedis = new Redis(redisUrl, { ...redisTls(overrides, redisUrl), lazyConnect: false, maxRetriesPerRequest: 2, connectTimeout: 2000, commandTimeout: 3000 });
    controlsRedis.on('error', () => undefined);
    controls = await opts.controls({ redis: controlsRedis, pool, overrides });
  } else if (opts.controls) controls = opts.controls;
  else if (opts.controls === undefined) log.warn('no ControlAdmin given: /controls answers 503');
  const ctx: ApiContext = { pool, redis, cache: new ApiCache(redis, config.cachePrefix, config.cacheTtlSeconds, log, config.cacheMaxEntryBytes), config, controls };
  const app = await buildApp(ctx);
  let port = 0;
  if (opts.listen !== false) {
    await app.listen({ port: config.port, host: config.host });
    const addr = app.server.address();
    port = typeof addr === 'object' && addr ? addr.port : config.port;
    log.info({ port, cursorKey: config.cursors.keySource }, 'API listening');
  }
  let metrics: OpsServer | undefined;
  let metricsUrl: string | null = null;
  if (opts.listen !== false && config.metricsPort !== null && config.metricsPort !== opts.sharedMetricsPort) {
    metrics = new OpsServer();
    metrics.addReadinessCheck('postgres', async () => void (await pool.query('SELECT 1')));
    const metricsPort = await metrics.start(config.metricsPort, config.host);
    metricsUrl = `http://127.0.0.1:${metricsPort}`;
    log.info({ port: metricsPort }, 'API metrics listening');
  }
  return {
    app,
    port,
    url: `http://127.0.0.1:${port}`,
    metricsUrl,
    ctx,
    async close() {
      await app.close();
      await metrics?.stop();
      if (typeof opts.controls === 'function' && controls) await controls.close().catch((err) => log.warn({ err }, 'control admin close failed'));
      controlsRedis?.disconnect();
      redis.disconnect();
      await pool.end();
    },
  };
}
