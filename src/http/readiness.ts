import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import type { ReadinessCheck } from './ops-server';
import type { Overrides } from '../config';
import { registryTarget } from '../avro/registry-auth';

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

  schemaRegistry: (url: string, overrides: Overrides = {}): ReadinessCheck => {
    const target = registryTarget(url, overrides);
    return async () => {
      const res = await fetch(`${target.baseUrl}/subjects`, { headers: target.headers, signal: AbortSignal.timeout(2000) });
      if (!res.ok) throw new Error(`registry answered ${res.status}`);
    };
  },
};
