import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadMigrations } from '../../src/db/migrate';

describe('migration manifest', () => {
  it('orders the repository migrations by number without duplicates', () => {
    const migrations = loadMigrations();
    expect(migrations.length).toBeGreaterThanOrEqual(3);
    const versions = migrations.map((m) => m.version);
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
    expect(new Set(versions).size).toBe(versions.length);
  });

  it('refuses two migrations with the same number', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mig-'));
    fs.writeFileSync(path.join(dir, '001_a.sql'), 'SELECT 1');
    fs.writeFileSync(path.join(dir, '001_b.sql'), 'SELECT 2');
    expect(() => loadMigrations(dir)).toThrow(/share number 1/);
  });
});
