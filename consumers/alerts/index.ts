import { watchConsumerDependencies } from '../../src/http/readiness';
import Redis from 'ioredis';
import { Kafka } from 'kafkajs';
import { Pool } from 'pg';
import { AvroCodec } from '../../src/avro/codec';
import { Overrides, setting, topics } from '../../src/config';
import { roleRedis } from '../../src/redis/client';
import { createPool } from '../../src/db/pool';
import { createKafka } from '../../src/kafka/client';
import { logger, Logger } from '../../src/logging';
import { Role, RoleContext } from '../../src/roles';
import { Channel, ChannelName, createNotifier, Notifier } from '../../src/notify';
import { AlertConsumer } from './alert-consumer';
import { Dispatcher } from './dispatcher';
import { Grouper } from './grouping';
import { AlertSettings, alertSettings } from './settings';

export { AlertConsumer } from './alert-consumer';
export { Dispatcher } from './dispatcher';
export type { CostAnomaly } from '../../src/contracts/anomaly';
export { alertSettings } from './settings';
export type { AlertSettings } from './settings';

export interface AlertStack {
  notifier: Notifier;
  dispatcher: Dispatcher;
}

/** The alert consumer's notifier (its own consumer group) with routing, grouping and escalation coalescing, per `settings`. */
export async function createAlertStack(deps: { settings: AlertSettings; overrides: Overrides; redis: Redis; pool: Pool; kafka: Kafka; log: Logger; channels?: Map<ChannelName, Channel> }): Promise<AlertStack> {
  const { settings: s } = deps;
  const notifier = await createNotifier({ ...deps, scope: 'alerts', groupId: s.groupId });
  const dispatcher = new Dispatcher({
    redis: deps.redis, deliverer: notifier.deliverer, grouper: new Grouper(deps.redis, s.groupIntervalMs), routing: s.routing, log: deps.log, coalesceMs: s.coalesceMs,
  });
  return { notifier, dispatcher };
}

export function alertsRole({ overrides, ops }: RoleContext): Role {
  const log = logger('alert-consumer');
  const settings = alertSettings(overrides);
  const pool = createPool(overrides, 'finops-alerts', 'alerts');
  const redis = roleRedis(overrides, log);
  const kafka = createKafka(overrides, 'alerts');
  const t = topics(overrides);
  let consumer: AlertConsumer | undefined;
  let stack: AlertStack | undefined;
  watchConsumerDependencies(ops, { pool, redis, kafka, topics: [t.costAnomalies, t.deadLetter], overrides });
  return {
    name: 'alerts',
    async start() {
      stack = await createAlertStack({ settings, overrides, redis, pool, kafka, log });
      consumer = new AlertConsumer({
        kafka, codec: new AvroCodec(setting('SCHEMA_REGISTRY_URL', overrides), overrides), dispatcher: stack.dispatcher, dlq: stack.notifier.dlq, log,
        topic: t.costAnomalies, deadLetterTopic: t.deadLetter, settings,
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
