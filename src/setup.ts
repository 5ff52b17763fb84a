import { createPool } from './db/pool';
import { migrate } from './db/migrate';
import { Overrides, setting, topics } from './config';
import { createKafka, ensureTopics, pipelineTopicSpecs } from './kafka/client';
import { AvroCodec } from './avro/codec';
import { loadSchema } from './avro/schemas';
import { logger } from './logging';

const log = logger('setup');

export async function runMigrations(overrides: Overrides = {}): Promise<string[]> {
  const pool = createPool(overrides, 'finops-migrate');
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
