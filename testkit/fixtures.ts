import { randomBytes } from 'node:crypto';
import { Kafka } from 'kafkajs';
import { Pool } from 'pg';
import { AvroCodec } from '../src/avro/codec';
import { loadSchema } from '../src/avro/schemas';
import { Overrides, setting, topics } from '../src/config';
import { createPool } from '../src/db/pool';
import { createKafka, ensureTopics, pipelineTopicSpecs } from '../src/kafka/client';
import { runNames } from './run-names';

/**
 * Integration fixtures. Each test file gets uniquely named topics and consumer groups
 * (`test.<id>.cost-events`, `test.<id>.alerts`, …: runNames) so files never see each other's
 * messages or join each other's groups, and registers its own clean-up. The stack itself comes from
 * `bash stack/stack.sh up`; the database is the test database prepared by tests/helpers/global-setup.ts.
 */
export interface TestEnv {
  id: string;
  overrides: Overrides;
  kafka: Kafka;
  pool: Pool;
  codec: AvroCodec;
  cleanup: (fn: () => Promise<unknown> | unknown) => void;
  close: () => Promise<void>;
}

export function uniqueId(prefix = 't'): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export async function createTestEnv(name: string, extra: Overrides = {}): Promise<TestEnv> {
  const id = uniqueId(name.replace(/[^a-z0-9]/gi, '').slice(0, 12).toLowerCase());
  const overrides: Overrides = {
    ...runNames('test', id),
    KAFKA_CLIENT_ID: `test-${id}`,
    ...extra,
  };
  const kafka = createKafka(overrides, 'test');
  await ensureTopics(kafka, pipelineTopicSpecs(overrides), overrides);
  const codec = new AvroCodec(setting('SCHEMA_REGISTRY_URL', overrides), overrides);
  const t = topics(overrides);
  await codec.register(t.costEvents, loadSchema('cost-event'));
  await codec.register(t.postOutcomes, loadSchema('post-outcome'));
  const pool = createPool(overrides, `test-${id}`);
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  return {
    id,
    overrides,
    kafka,
    pool,
    codec,
    cleanup: (fn) => cleanups.push(fn),
    close: async () => {
      for (const fn of cleanups.reverse()) await fn();
      const admin = kafka.admin();
      await admin.connect();
      const names = Object.values(t);
      await admin.deleteTopics({ topics: names }).catch(() => undefined);
      await admin.disconnect();
      await pool.end();
    },
  };
}
