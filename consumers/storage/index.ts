import { readiness } from '../../src/http/readiness';
import { AvroCodec } from '../../src/avro/codec';
import { setting, topics } from '../../src/config';
import { createPool } from '../../src/db/pool';
import { createKafka } from '../../src/kafka/client';
import { logger } from '../../src/logging';
import { RoleContext, Role } from '../../src/roles';
import { PartitionMaintainer } from './partition-maintainer';
import { StorageConsumer } from './storage-consumer';
import type { CommitListener } from '../../src/contracts/storage';
import { storageSettings } from './settings';
import { CostMetricsRecorder } from '../../src/metrics/business';

export { StorageConsumer } from './storage-consumer';
export { CostEventWriter } from './cost-event-writer';
export type { WriteResult } from './cost-event-writer';
export { PartitionMaintainer } from './partition-maintainer';

/**
 * The `storage` role. `commitListeners` hear of every committed batch, in order, after the business
 * metrics (the composition root passes the query API's cache invalidator); they are closed on stop.
 */
export function storageRole({ overrides, ops }: RoleContext, deps: { commitListeners?: CommitListener[] } = {}): Role {
  const log = logger('storage-consumer');
  const commitListeners = deps.commitListeners ?? [];
  const pool = createPool(overrides, 'finops-storage', 'storage');
  const codec = new AvroCodec(setting('SCHEMA_REGISTRY_URL', overrides), overrides);
  const kafka = createKafka(overrides, 'storage');
  const t = topics(overrides);
  const costMetrics = new CostMetricsRecorder(overrides);
  const { partitions, ...consumerSettings } = storageSettings(overrides);
  const maintainer = new PartitionMaintainer(pool, partitions, log);
  const consumer = new StorageConsumer({
    kafka,
    pool,
    codec,
    log,
    topic: t.costEvents,
    deadLetterTopic: t.deadLetter,
    ...consumerSettings,
    onFatal: (err) => {
      log.fatal({ err }, 'a batch could not be stored after retries; exiting so the consumer restarts from its last committed offsets');
      setTimeout(() => process.exit(1), 100).unref();
    },
    overrides,
    onCommitted: async (result) => {
      costMetrics.record(result);
      for (const listener of commitListeners) await listener.onCommitted(result);
    },
  });
  ops.addDependency('postgres', readiness.postgresSchema(pool));
  ops.addDependency('kafka', readiness.kafka(kafka, [t.costEvents, t.deadLetter]));
  ops.addDependency('schema-registry', readiness.schemaRegistry(setting('SCHEMA_REGISTRY_URL', overrides), overrides));
  ops.addReadinessCheck('kafka-consumer', readiness.kafkaConsumers());
  return {
    name: 'storage',
    async start() {
      await maintainer.runOnce();
      maintainer.start();
      costMetrics.start();
      await consumer.start();
      log.info({ topic: t.costEvents }, 'storage consumer started');
    },
    async stop() {
      maintainer.stop();
      await consumer.stop();
      costMetrics.stop();
      await pool.end();
      for (const listener of commitListeners) await listener.close?.();
      log.info('storage consumer stopped');
    },
  };
}
