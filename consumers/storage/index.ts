import { readiness } from '../../src/http/readiness';
import { AvroCodec } from '../../src/avro/codec';
import { intSetting, Overrides, setting, topics } from '../../src/config';
import { createPool } from '../../src/db/pool';
import { createKafka, kafkaGroupTimings } from '../../src/kafka/client';
import { logger } from '../../src/logging';
import { RoleContext, Role } from '../../src/roles';
import { PartitionMaintainer } from './partition-maintainer';
import { StorageConsumer } from './storage-consumer';
import type { WriteResult } from './cost-event-writer';
import { closeCacheInvalidation, registerCacheInvalidation } from '../../api/cache-invalidation';
import { CostMetricsRecorder } from '../../src/metrics/business';

export { StorageConsumer } from './storage-consumer';
export { CostEventWriter } from './cost-event-writer';
export type { WriteResult } from './cost-event-writer';
export { PartitionMaintainer } from './partition-maintainer';

/** Hooks other components register to hear of committed batches (e.g. API cache invalidation). */
export const commitListeners: ((result: WriteResult, overrides: Overrides) => Promise<void> | void)[] = [];

export function storageRole({ overrides, ops }: RoleContext): Role {
  const log = logger('storage-consumer');
  // Query-API cache invalidation after each committed batch (see api/cache-invalidation.ts).
  registerCacheInvalidation(commitListeners, overrides);
  const pool = createPool(overrides, 'finops-storage', 'storage');
  const codec = new AvroCodec(setting('SCHEMA_REGISTRY_URL', overrides), overrides);
  const kafka = createKafka(overrides, 'storage');
  const t = topics(overrides);
  const costMetrics = new CostMetricsRecorder(overrides);
  const maintainer = new PartitionMaintainer(
    pool,
    {
      monthsAhead: intSetting('STORAGE_PARTITIONS_AHEAD_MONTHS', overrides),
      monthsBack: Math.ceil(intSetting('STORAGE_MAX_PAST_AGE_DAYS', overrides) / 28),
      retentionMonths: intSetting('STORAGE_RETENTION_MONTHS', overrides),
    },
    log,
  );
  const consumer = new StorageConsumer({
    kafka,
    pool,
    codec,
    log,
    topic: t.costEvents,
    deadLetterTopic: t.deadLetter,
    groupId: setting('STORAGE_GROUP_ID', overrides),
    batchMaxEvents: intSetting('STORAGE_BATCH_MAX_EVENTS', overrides, { min: 1 }),
    batchMaxWaitMs: intSetting('STORAGE_BATCH_MAX_WAIT_MS', overrides),
    sessionTimeoutMs: kafkaGroupTimings(overrides).sessionTimeout,
    fetchMaxBytes: intSetting('STORAGE_FETCH_MAX_BYTES', overrides, { min: 1024 }),
    fetchMaxBytesPerPartition: intSetting('STORAGE_FETCH_MAX_BYTES_PER_PARTITION', overrides, { min: 1024 }),
    flushConcurrency: intSetting('STORAGE_FLUSH_CONCURRENCY', overrides, { min: 1, max: 16 }),
    onFatal: (err) => {
      log.fatal({ err }, 'a batch could not be stored after retries; exiting so the consumer restarts from its last committed offsets');
      setTimeout(() => process.exit(1), 100).unref();
    },
    overrides,
    onCommitted: async (result) => {
      costMetrics.record(result);
      for (const listener of commitListeners) await listener(result, overrides);
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
      await closeCacheInvalidation(overrides);
      log.info('storage consumer stopped');
    },
  };
}
