import { Client } from 'pg';
import { setting } from '../src/config';
import { migrate } from '../src/db/migrate';
import { createPool } from '../src/db/pool';

/**
 * A database of its own on the DATABASE_URL server (created if absent), migrated, and its URL.
 * `truncate`, if given, names the tables to empty first (a run that counts rows starts from none).
 */
export async function migratedDatabase(name: string, truncate: string[] = []): Promise<string> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${JSON.stringify(name)} must be a plain lower-case identifier`);
  const url = new URL(setting('DATABASE_URL'));
  url.pathname = `/${name}`;
  const admin = new Client({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() });
  await admin.connect();
  try {
    if (!(await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount) await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const pool = createPool({ DATABASE_URL: url.toString() });
  try {
    await migrate(pool);
    if (truncate.length) await pool.query(`TRUNCATE ${truncate.join(', ')}`);
  } finally {
    await pool.end();
  }
  return url.toString();
}
