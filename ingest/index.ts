import type { FastifyInstance } from 'fastify';
import type Redis from 'ioredis';
import { CostTracker } from '../producers';
import { intSetting, Overrides, setting, topics } from '../src/config';
import type { CostEvent } from '../src/events';
import { DependencyError, isRetriable } from '../src/errors';
import { retry } from '../src/retry';
import { readiness } from '../src/http/readiness';
import { createKafka, SDK_RETRY } from '../src/kafka/client';
import { logger } from '../src/logging';
import { createFailFastRedis } from '../src/redis/fail-fast';
import type { Role, RoleContext } from '../src/roles';
import { buildIngestApp, CostPublisher } from './app';
import { ingestSettings } from './settings';

export { buildIngestApp } from './app';
export { ingestSettings } from './settings';

export interface RunningIngest {
  app: FastifyInstance;
  port: number;
  url: string;
  close(): Promise<void>;
}

/**
 * Publishes events on one tracker and resolves with the failures once every event has settled.
 * Counting settlements instead of Promise.allSettled saves a result object and two closures per event.
 */
function publishAll(tracker: CostTracker, events: CostEvent[]): Promise<unknown[]> {
  if (events.length === 0) return Promise.resolve([]);
  return new Promise((resolve) => {
    let left = events.length;
    const failures: unknown[] = [];
    const settled = () => {
      if (--left === 0) resolve(failures);
    };
    const failed = (err: unknown) => {
      failures.push(err);
      settled();
    };
    for (const e of events) tracker.publishEvent(e).then(settled, failed);
  });
}

/**
 * Starts HTTP ingest on INGEST_HOST:INGEST_PORT: the SDK's CostTracker (its validation, price
 * book and batching producer, with the INGEST_* batching and delivery settings) behind POST /events.
 */
export async function startIngest(overrides: Overrides = {}): Promise<RunningIngest> {
  const log = logger('ingest');
  const s = ingestSettings(overrides);
  if (s.tokens.size === 0) log.warn('no tokens configured (API_TOKENS, API_INGEST_TOKENS): POST /events answers 401');
  // Several producers, each idempotent with one request in flight, so one slow acknowledgement does
  // not hold every request back; a request's events all go to one of them (round robin).
  const trackers = Array.from({ length: s.producers }, () => new CostTracker({
    overrides: {
      ...overrides,
      SDK_LINGER_MS: s.lingerMs,
      SDK_MAX_BATCH_EVENTS: s.maxBatchEvents,
      SDK_MAX_BUFFERED_EVENTS: s.maxBufferedEvents,
      SDK_DELIVERY_TIMEOUT_MS: s.deliveryTimeoutMs,
    },
    kafka: createKafka(overrides, 'ingest', SDK_RETRY),
    // `setup` registers the schemas; the role publishes under the registered id.
    registerSchemas: false,
  }));
  // The schemas are registered by `setup`, maybe after this pod started: wait for them (and the broker), unready.
  await retry(() => Promise.all(trackers.map((t) => t.start())), {
    retries: Number.POSITIVE_INFINITY,
    initialDelayMs: intSetting('STARTUP_RETRY_INITIAL_MS', overrides, { min: 1 }),
    maxDelayMs: intSetting('STARTUP_RETRY_MAX_MS', overrides, { min: 1 }),
    jitter: 0.2,
    shouldRetry: (err) => err instanceof DependencyError || isRetriable(err),
    onRetry: (err, attempt, delayMs) => log.warn({ err: (err as Error).message, attempt, retryInMs: delayMs }, 'waiting for the registered schemas and the broker'),
  });
  let next = 0;
  const publisher: CostPublisher = {
    completeCostEvent: (draft) => trackers[0].completeCostEvent(draft),
    publishBatch: (events) => publishAll(trackers[next++ % trackers.length], events),
  };
  const redis: Redis = createFailFastRedis(s.redisUrl, 100, log, 'finops-ingest', overrides);
  const app = await buildIngestApp({ settings: s, publisher, redis });
  await app.listen({ port: s.port, host: s.host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : s.port;
  log.info({ port, maxBatch: s.maxBatch }, 'HTTP ingest listening');
  return {
    app,
    port,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await app.close(); // stops taking requests; those in hand are answered first
      await Promise.all(trackers.map((t) => t.close()));
      redis.disconnect();
    },
  };
}

/** The `ingest` role: POST /events on INGEST_PORT; /metrics, /health and /ready on the ops server. */
export function ingestRole({ overrides, ops }: RoleContext): Role {
  const log = logger('ingest');
  let running: RunningIngest | undefined;
  const kafka = createKafka(overrides, 'ingest-ready');
  ops.addDependency('kafka', readiness.kafka(kafka, [topics(overrides).costEvents]));
  ops.addDependency('schema-registry', readiness.schemaRegistry(setting('SCHEMA_REGISTRY_URL', overrides), overrides));
  ops.addReadinessCheck('ingest-http', async () => {
    if (!running) throw new Error('not listening yet');
  });
  return {
    name: 'ingest',
    async start() {
      running = await startIngest(overrides);
    },
    async stop() {
      await running?.close();
      running = undefined;
      log.info('HTTP ingest stopped');
    },
  };
}
