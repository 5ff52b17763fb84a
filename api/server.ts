import Redis from 'ioredis';
import type { FastifyInstance } from 'fastify';
import { databaseUrl, Overrides, setting } from '../src/config';
import { redisTls } from '../src/redis/tls';
import type { ControlAdmin } from '../src/contracts/controls';
import { createPool } from '../src/db/pool';
import { logger } from '../src/logging';
import { buildApp } from './app';
import { ApiCache } from './cache';
import { loadApiConfig } from './config';
import { loadControlAdmin } from './controls-loader';
import { createFailFastRedis, waitReady } from './redis';
import type { ApiContext } from './context';

export interface RunningApi {
  app: FastifyInstance;
  port: number;
  url: string;
  ctx: ApiContext;
  close(): Promise<void>;
}

export interface StartOptions {
  /** Use this ControlAdmin instead of loading the breaker's (null: run without controls). */
  controls?: ControlAdmin | null;
  listen?: boolean;
}

/** Opens the API's connections, builds the app and listens on API_HOST:API_PORT. */
export async function startApi(overrides: Overrides = {}, opts: StartOptions = {}): Promise<RunningApi> {
  const log = logger('api');
  const config = loadApiConfig(overrides);
  if (config.tokens.size === 0) log.warn('no API tokens configured (API_TOKENS, API_READ_TOKENS, API_OPERATOR_TOKENS): every authenticated endpoint answers 401');
  // Every API query is bounded: statement_timeout is set per connection through libpq options.
  const dbUrl = new URL(databaseUrl('api', overrides));
  dbUrl.searchParams.set('options', `-c statement_timeout=${config.statementTimeoutMs}`);
  const pool = createPool({ ...overrides, API_DATABASE_URL: dbUrl.toString() }, 'finops-api', 'api');
  const redisUrl = setting('REDIS_URL', overrides);
  const redis = createFailFastRedis(redisUrl, config.redisTimeoutMs, log, 'finops-api-cache', overrides);
  if (!(await waitReady(redis, 2000))) log.warn('Redis not reachable at start; serving from Postgres until it is');
  let controlsRedis: Redis | undefined;
  let controls: ControlAdmin | null;
  if (opts.controls !== undefined) controls = opts.controls;
  else {
    controlsRedis = new Redis(redisUrl, { ...redisTls(overrides, redisUrl), lazyConnect: false, maxRetriesPerRequest: 2 });
    controlsRedis.on('error', () => undefined);
    controls = await loadControlAdmin({ redis: controlsRedis, pool, overrides });
    if (!controls) log.warn('consumers/breaker/control-admin not found: /controls answers 503');
  }
  const ctx: ApiContext = { pool, redis, cache: new ApiCache(redis, config.cachePrefix, config.cacheTtlSeconds, log), config, controls };
  const app = await buildApp(ctx);
  let port = 0;
  if (opts.listen !== false) {
    await app.listen({ port: config.port, host: config.host });
    const addr = app.server.address();
    port = typeof addr === 'object' && addr ? addr.port : config.port;
    log.info({ port }, 'API listening');
  }
  return {
    app,
    port,
    url: `http://127.0.0.1:${port}`,
    ctx,
    async close() {
      await app.close();
      if (opts.controls === undefined && controls) await controls.close().catch((err) => log.warn({ err }, 'control admin close failed'));
      controlsRedis?.disconnect();
      redis.disconnect();
      await pool.end();
    },
  };
}
