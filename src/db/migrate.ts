import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from 'pg';
import { ConfigError } from '../errors';
import { logger } from '../logging';

const log = logger('migrate');
// Any fixed 64-bit number; every process migrating this database takes the same lock.
const MIGRATION_LOCK_KEY = 7_412_903_551n;

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

export function sqlDir(): string {
  for (const candidate of [path.resolve(__dirname, '../../sql'), path.resolve(__dirname, '../../../sql')]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  throw new ConfigError('sql/ folder not found next to the code');
}

/** Reads `NNN_name.sql` files in numeric order; duplicate numbers are an error. */
export function loadMigrations(dir = sqlDir()): Migration[] {
  const migrations = fs
    .readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .map((file) => {
      const sql = fs.readFileSync(path.join(dir, file), 'utf8');
      return { version: Number(file.split('_')[0]), name: file, sql, checksum: crypto.createHash('sha256').update(sql).digest('hex') };
    })
    .sort((a, b) => a.version - b.version);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i].version === migrations[i - 1].version) {
      throw new ConfigError(`migrations ${migrations[i - 1].name} and ${migrations[i].name} share number ${migrations[i].version}; renumber the newer one`);
    }
  }
  return migrations;
}

/** Applies pending migrations under an advisory lock; returns the names applied. */
export async function migrate(pool: Pool, migrations = loadMigrations()): Promise<string[]> {
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number; name: string; checksum: string }>('SELECT version, name, checksum FROM schema_migrations');
    const done = new Map(rows.map((r) => [r.version, r]));
    for (const m of migrations) {
      const prior = done.get(m.version);
      if (prior) {
        if (prior.checksum !== m.checksum) {
          throw new ConfigError(`migration ${m.name} was changed after it was applied; migrations are append-only: revert it and add a new numbered file`);
        }
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [m.version, m.name, m.checksum]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw new ConfigError(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(m.name);
      log.info({ migration: m.name }, 'applied migration');
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]).catch(() => undefined);
    client.release();
  }
  return applied;
}
