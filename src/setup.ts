import { createPool } from './db/pool';
import { migrate } from './db/migrate';
import { Overrides, setting, topics } from './config';
import { createKafka, ensureTopics, pipelineTopicSpecs } from './kafka/client';
import { AvroCodec } from './avro/codec';
import { loadSchema } from './avro/schemas';
import { logger } from './logging';
import { readiness } from './http/readiness';
import { waitForDependencies } from './http/dependency-gate';
import type { ReadinessCheck } from './http/ops-server';

const log = logger('setup');

export async function runMigrations(overrides: Overrides = {}): Promise<string[]> {
  const pool = createPool(overrides, 'finops-migrate', 'migrator');
  try {
    const applied = await migrate(pool);
    log.info({ applied }, applied.length ? 'migrations applied' : 'schema up to date');
    return applied;
  } finally {
    await pool.end();
  }
}

/** Creates the pipeline's topics if missing and registers each topic's value schema. */
export async function setupTopics(overrides: Overrides = {}): Promise<void> {
  await ensureTopics(createKafka(overrides, 'setup'), pipelineTopicSpecs(overrides), overrides);
  const codec = new AvroCodec(setting('SCHEMA_REGISTRY_URL', overrides));
  const t = topics(overrides);
  const subjects: [string, string][] = [
    [t.costEvents, 'cost-event'],
    [t.postOutcomes, 'post-outcome'],
    [t.costAnomalies, 'cost-anomaly'],
    [t.costControls, 'cost-control'],
  ];
  for (const [topic, schema] of subjects) await codec.register(topic, loadSchema(schema));
  log.info({ topics: t }, 'topics and schemas ready');
}

export type SetupStep = 'migrate' | 'topics';

/**
 * `finops setup` (and `run --setup`): waits, with backoff, until Postgres, the broker and the
 * registry answer, then applies migrations and creates topics and schemas. The Kubernetes Job and
 * Compose's `setup` service run this; roles never do unless asked.
 */
export async function runSetup(overrides: Overrides = {}, steps: SetupStep[] = ['migrate', 'topics'], opts: { isStopping?: () => boolean } = {}): Promise<void> {
  const checks = new Map<string, ReadinessCheck>();
  const pool = steps.includes('migrate') ? createPool(overrides, 'finops-migrate', 'migrator') : undefined;
  if (pool) checks.set('postgres', readiness.postgres(pool));
  if (steps.includes('topics')) {
    checks.set('kafka', readiness.kafka(createKafka(overrides, 'setup'), []));
    checks.set('schema-registry', readiness.schemaRegistry(setting('SCHEMA_REGISTRY_URL', overrides), overrides));
  }
  try {
    await waitForDependencies(checks, log, overrides, opts);
  } finally {
    await pool?.end();
  }
  if (opts.isStopping?.()) return;
  if (steps.includes('migrate')) await runMigrations(overrides);
  if (steps.includes('topics')) await setupTopics(overrides);
}
