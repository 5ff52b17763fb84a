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
  return pool;
}

export type { Pool, PoolClient } from 'pg';
