import { Pool, types } from 'pg';
import { DatabaseRole, databaseUrl, intSetting, Overrides } from '../config';
import { logger } from '../logging';
import { postgresSsl } from './ssl';

// NUMERIC (1700) and BIGINT (20) stay text; callers convert them exactly (money.ts), never via float.
types.setTypeParser(1700, (v) => v);
types.setTypeParser(20, (v) => v);

const log = logger('postgres');

/** A pool for `role`'s own login (databaseUrl(): `<ROLE>_DATABASE_URL`, else DATABASE_URL). */
export function createPool(overrides: Overrides = {}, applicationName = 'finops', role?: DatabaseRole): Pool {
  const connectionString = databaseUrl(role, overrides);
  const ssl = postgresSsl(overrides, connectionString);
  const pool = new Pool({
    connectionString,
    ...(ssl === undefined ? {} : { ssl }),
    max: intSetting('DATABASE_POOL_MAX', overrides, { min: 1 }),
    application_name: applicationName,
    connectionTimeoutMillis: 5000,
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', (err) => log.warn({ err }, 'idle Postgres connection failed'));
  // A checked-out client whose server goes away (a restart terminates every session) emits
  // 'error' on itself, not on the pool; without a listener that event would end the process.
  // The query in flight fails on its own, and the pool replaces the client once it is released.
  pool.on('connect', (client) => client.on('error', (err) => log.warn({ err: err.message }, 'Postgres connection failed')));
  return pool;
}

export type { Pool, PoolClient } from 'pg';
