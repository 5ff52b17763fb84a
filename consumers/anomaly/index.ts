import { readiness } from '../../src/http/readiness';
import { AvroCodec } from '../../src/avro/codec';
import { setting, topics } from '../../src/config';
import { createPool } from '../../src/db/pool';
import { createKafka } from '../../src/kafka/client';
import { logger } from '../../src/logging';
import { Role, RoleContext } from '../../src/roles';
import { AnomalyConsumer } from './anomaly-consumer';
import { anomalyRoleSettings, anomalySettings } from './settings';

export { AnomalyConsumer } from './anomaly-consumer';
export { AnomalyEngine } from './engine';
export { anomalySettings } from './settings';

export function anomalyRole({ overrides, ops }: RoleContext): Role {
  const log = logger('anomaly-consumer');
  const pool = createPool(overrides, 'finops-anomaly', 'anomaly');
  const codec = new AvroCodec(setting('SCHEMA_REGISTRY_URL', overrides), overrides);
  const kafka = createKafka(overrides, 'anomaly');
  const t = topics(overrides);
  const consumer = new AnomalyConsumer({
    kafka,
    pool,
    codec,
    log,
    settings: anomalySettings(overrides),
    costTopic: t.costEvents,
    outcomeTopic: t.postOutcomes,
    anomalyTopic: t.costAnomalies,
    deadLetterTopic: t.deadLetter,
    ...anomalyRoleSettings(overrides),
    overrides,
  });
  ops.addDependency('postgres', readiness.postgresSchema(pool));
  ops.addDependency('kafka', readiness.kafka(kafka, [t.costEvents, t.postOutcomes, t.costAnomalies, t.deadLetter]));
  ops.addDependency('schema-registry', readiness.schemaRegistry(setting('SCHEMA_REGISTRY_URL', overrides), overrides));
  ops.addReadinessCheck('kafka-consumer', readiness.kafkaConsumers());
  return {
    name: 'anomaly',
    async start() {
      await consumer.start();
      log.info({ input: [t.costEvents, t.postOutcomes], output: t.costAnomalies }, 'anomaly consumer started');
    },
    async stop() {
      await consumer.stop();
      await pool.end();
      log.info('anomaly consumer stopped');
    },
  };
}
