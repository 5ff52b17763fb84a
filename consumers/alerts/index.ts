import { readiness } from '../../src/http/readiness';
import Redis from 'ioredis';
import { Kafka } from 'kafkajs';
import { Pool } from 'pg';
import { AvroCodec } from '../../src/avro/codec';
import { intSetting, jsonSetting, Overrides, setting, topics } from '../../src/config';
import { redisTls } from '../../src/redis/tls';
import { createPool } from '../../src/db/pool';
import { createKafka } from '../../src/kafka/client';
import { producerOptions, sessionTimeoutMs } from '../../src/kafka/options';
import { logger, Logger } from '../../src/logging';
import { Role, RoleContext } from '../../src/roles';
import { Channel, ChannelName, createNotifier, Notifier } from '../../src/notify';
import { AlertConsumer } from './alert-consumer';
import { Dispatcher } from './dispatcher';
import { Grouper } from './grouping';
import { parseRouting } from './routing';

export { AlertConsumer } from './alert-consumer';
export { Dispatcher } from './dispatcher';
export type { CostAnomaly } from '../../src/contracts/anomaly';

export interface AlertStack {
  notifier: Notifier;
  dispatcher: Dispatcher;
}

/** The alert consumer's notifier (ALERT_* settings, its own consumer group) with routing, grouping and escalation coalescing. */
export async function createAlertStack(deps: { overrides: Overrides; redis: Redis; pool: Pool; kafka: Kafka; log: Logger; channels?: Map<ChannelName, Channel> }): Promise<AlertStack> {
  const { overrides: o } = deps;
  const notifier = await createNotifier({ ...deps, scope: 'alerts', groupId: setting('ALERT_GROUP_ID', o) });
  const routing = parseRouting(jsonSetting('ALERT_ROUTES', o), jsonSetting('ALERT_SEVERITY_ROUTING', o));
  const dispatcher = new Dispatcher({ redis: deps.redis, deliverer: notifier.deliverer, grouper: new Grouper(deps.redis, intSetting('ALERT_GROUP_INTERVAL_MS', o)), routing, log: deps.log,
    coalesceMs: intSetting('ALERT_ESCALATION_COALESCE_MS', o),
  });
  return { notifier, dispatcher };
}

export function alertsRole({ overrides, ops }: RoleContext): Role {
  const log = logger('alert-consumer');
  const pool = createPool(overrides, 'finops-alerts', 'alerts');
  const redis = new Redis(setting('REDIS_URL', overrides), { ...redisTls(overrides), maxRetriesPerRequest: 3 });
  redis.on('error', (err) => log.warn({ err: err.message }, 'Redis error'));
  const kafka = createKafka(overrides, 'alerts');
  const t = topics(overrides);
  let consumer: AlertConsumer | undefined;
  let stack: AlertStack | undefined;
  ops.addDependency('postgres', readiness.postgresSchema(pool));
  ops.addDependency('redis', readiness.redis(redis));
  ops.addDependency('kafka', readiness.kafka(kafka, [t.costAnomalies, t.deadLetter]));
  ops.addDependency('schema-registry', readiness.schemaRegistry(setting('SCHEMA_REGISTRY_URL', overrides), overrides));
  ops.addReadinessCheck('kafka-consumer', readiness.kafkaConsumers());
  return {
    name: 'alerts',
    async start() {
      stack = await createAlertStack({ overrides, redis, pool, kafka, log });
      consumer = new AlertConsumer({
        kafka, codec: new AvroCodec(setting('SCHEMA_REGISTRY_URL', overrides), overrides), dispatcher: stack.dispatcher, dlq: stack.notifier.dlq, log,
        topic: t.costAnomalies, deadLetterTopic: t.deadLetter, groupId: setting('ALERT_GROUP_ID', overrides),
        sessionTimeoutMs: sessionTimeoutMs(overrides),
      });
      await consumer.start();
      log.info({ topic: t.costAnomalies }, 'alert consumer started');
    },
    async stop() {
      await consumer?.stop();
      await stack?.notifier.close();
      redis.disconnect();
      await pool.end();
      log.info('alert consumer stopped');
    },
  };
}
