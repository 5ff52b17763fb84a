import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import type { ReadinessCheck } from './ops-server';
import { failedConsumers } from '../kafka/consumer-supervisor';

/** Readiness checks shared by the roles: each throws when its dependency cannot be reached. */
export const readiness = {
  postgres: (pool: Pool): ReadinessCheck => async () => void (await pool.query('SELECT 1')),

  redis: (redis: { ping(): Promise<unknown> }): ReadinessCheck => async () => void (await redis.ping()),

  /** The broker answers and serves metadata for the topics the role reads. */
  kafka: (kafka: Kafka, topics: string[]): ReadinessCheck => async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.fetchTopicMetadata({ topics });
    } finally {
      await admin.disconnect();
    }
  },

  /** Every supervised Kafka consumer of the process is still running (see src/kafka/consumer-supervisor.ts). */
  kafkaConsumers: (): ReadinessCheck => async () => {
    const failed = failedConsumers();
    if (failed.length) throw new Error(`consumer stopped: ${failed.map(([group, error]) => `${group} (${error})`).join('; ')}`);
  },

  schemaRegistry: (url: string): ReadinessCheck => async () => {
    const res = await fetch(`${url}/subjects`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`registry answered ${res.status}`);
  },
};
