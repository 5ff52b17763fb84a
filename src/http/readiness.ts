import type { Kafka } from 'kafkajs';
import { Client, type Pool } from 'pg';
import { loadMigrations } from '../db/migrate';
import type { ReadinessCheck } from './ops-server';
import { Overrides, setting } from '../config';
import { registryTarget } from '../avro/registry-auth';

let requiredVersion: number | undefined;

/** The newest migration this code ships; a database behind it has not been set up for this release. */
function requiredSchemaVersion(): number {
  requiredVersion ??= Math.max(0, ...loadMigrations().map((m) => m.version));
  return requiredVersion;
}

async function checkSchema(query: (sql: string) => Promise<{ rows: { version: number | null }[] }>): Promise<void> {
  let version: number;
  try {
    version = (await query('SELECT max(version) AS version FROM schema_migrations')).rows[0]?.version ?? 0;
  } catch (err) {
    if ((err as { code?: string }).code === '42P01') throw new Error('schema not migrated: run `finops setup` (the Kubernetes setup Job)');
    throw err;
  }
  const required = requiredSchemaVersion();
  if (version < required) throw new Error(`schema at migration ${version}, this release needs ${required}: run \`finops setup\``);
}
import { failedConsumers } from '../kafka/consumer-supervisor';

/** Readiness checks shared by the roles: each throws when its dependency cannot be reached. */
export const readiness = {
  postgres: (pool: Pool): ReadinessCheck => async () => void (await pool.query('SELECT 1')),

  /** Postgres answers and its schema is at least at this release's newest migration. */
  postgresSchema: (pool: Pool): ReadinessCheck => () => checkSchema((sql) => pool.query(sql)),

  /** The same through a one-off connection, for a role whose pool exists only once it has started. */
  postgresSchemaAt: (url: () => string): ReadinessCheck => async () => {
    const client = new Client({ connectionString: url(), connectionTimeoutMillis: 2000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await checkSchema((sql) => client.query(sql));
    } finally {
      await client.end().catch(() => undefined);
    }
  },

  redis: (redis: { ping(): Promise<unknown> }): ReadinessCheck => async () => void (await redis.ping()),

  /** The broker answers (one attempt, no client retries) and serves metadata for the topics the role reads. */
  kafka: (kafka: Kafka, topics: string[]): ReadinessCheck => async () => {
    const admin = kafka.admin({ retry: { retries: 0 } });
    try {
      await admin.connect();
      await admin.fetchTopicMetadata({ topics });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  },

  /** Every supervised Kafka consumer of the process is still running (see src/kafka/consumer-supervisor.ts). */
  kafkaConsumers: (): ReadinessCheck => async () => {
    const failed = failedConsumers();
    if (failed.length) throw new Error(`consumer stopped: ${failed.map(([group, error]) => `${group} (${error})`).join('; ')}`);
  },

  schemaRegistry: (url: string, overrides: Overrides = {}): ReadinessCheck => {
    const target = registryTarget(url, overrides);
    return async () => {
      let res: Response;
      try {
        res = await fetch(`${target.baseUrl}/subjects`, { headers: target.headers, signal: AbortSignal.timeout(2000) });
      } catch (err) {
        throw new Error(`registry unreachable at ${target.baseUrl}: ${(err as Error).message}`);
      }
      if (!res.ok) throw new Error(`registry answered ${res.status}`);
    };
  },
};

/**
 * The dependencies of a consumer role, on its ops server: Postgres at this release's schema, Redis
 * when it uses it, the broker with the topics it reads and writes, the schema registry, and its
 * Kafka consumers still running.
 */
export function watchConsumerDependencies(
  ops: { addDependency(name: string, check: ReadinessCheck): void; addReadinessCheck(name: string, check: ReadinessCheck): void },
  d: { pool: Pool; redis?: { ping(): Promise<unknown> }; kafka: Kafka; topics: string[]; overrides: Overrides },
): void {
  ops.addDependency('postgres', readiness.postgresSchema(d.pool));
  if (d.redis) ops.addDependency('redis', readiness.redis(d.redis));
  ops.addDependency('kafka', readiness.kafka(d.kafka, d.topics));
  ops.addDependency('schema-registry', readiness.schemaRegistry(setting('SCHEMA_REGISTRY_URL', d.overrides), d.overrides));
  ops.addReadinessCheck('kafka-consumer', readiness.kafkaConsumers());
}
