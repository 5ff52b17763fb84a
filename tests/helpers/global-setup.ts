import { Client } from 'pg';
import { createPool } from '../../src/db/pool';
import { migrate } from '../../src/db/migrate';

/**
 * Integration tests use their own database (finops_test on the local stack unless DATABASE_URL
 * says otherwise), migrated before any test runs.
 */
export default async function globalSetup(): Promise<void> {
  process.env.DATABASE_URL ??= 'postgres://finops:finops@127.0.0.1:15432/finops_test';
  const url = new URL(process.env.DATABASE_URL);
  const dbName = url.pathname.slice(1);
  const admin = new Client({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() });
  await admin.connect();
  const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [dbName]);
  if (!rowCount) await admin.query(`CREATE DATABASE "${dbName.replace(/"/g, '')}"`);
  await admin.end();
  const pool = createPool();
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
}
