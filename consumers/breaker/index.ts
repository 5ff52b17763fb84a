import { watchConsumerDependencies } from '../../src/http/readiness';
import { AvroCodec } from '../../src/avro/codec';
import { setting, topics } from '../../src/config';
import { roleRedis } from '../../src/redis/client';
import { createPool } from '../../src/db/pool';
import { createKafka } from '../../src/kafka/client';
import { producerOptions, sessionTimeoutMs } from '../../src/kafka/options';
import { logger } from '../../src/logging';
import { Role, RoleContext } from '../../src/roles';
import { createNotifier, Notifier } from '../../src/notify';
import { BreakerConsumer } from './breaker-consumer';
import { breakerRoleSettings, breakerSettings } from './settings';
import { ControlStore } from './control-store';
import { pageNotification } from './page';

export { createControlAdmin } from './control-admin';
export { ControlStore } from './control-store';
export * from './state-machine';

export function breakerRole({ overrides, ops }: RoleContext): Role {
  const log = logger('breaker');
  const pool = createPool(overrides, 'finops-breaker', 'breaker');
  const redis = roleRedis(overrides, log);
  const kafka = createKafka(overrides, 'breaker');
  const t = topics(overrides);
  const producer = kafka.producer(producerOptions());
  const role = breakerRoleSettings(overrides);
  const channels = role.pageChannels;
  let pager: Notifier | undefined;
  const store = new ControlStore({
    redis, pool, producer, codec: new AvroCodec(setting('SCHEMA_REGISTRY_URL', overrides), overrides), topic: t.costControls,
    cfg: breakerSettings(overrides), log,
    onPage: async (transition) => {
      const n = pageNotification(transition);
      await Promise.all(channels.map((c) => pager!.deliverer.deliver(n, c)));
    },
  });
  const consumer = new BreakerConsumer({
    kafka, codec: new AvroCodec(setting('SCHEMA_REGISTRY_URL', overrides), overrides), store, log, topic: t.costAnomalies, deadLetterTopic: t.deadLetter,
    groupId: role.groupId, tickMs: role.tickMs,
    sessionTimeoutMs: sessionTimeoutMs(overrides),
  });
  watchConsumerDependencies(ops, { pool, redis, kafka, topics: [t.costAnomalies, t.costControls, t.deadLetter], overrides });
  return {
    name: 'breaker',
    async start() {
      await producer.connect();
      pager = await createNotifier({ scope: 'breaker', groupId: role.groupId, overrides, redis, pool, kafka, log });
      await consumer.start();
      log.info({ topic: t.costAnomalies, controls: t.costControls }, 'circuit breaker started');
    },
    async stop() {
      await consumer.stop();
      await pager?.close();
      await producer.disconnect();
      redis.disconnect();
      await pool.end();
      log.info('circuit breaker stopped');
    },
  };
}
