import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { freePort } from './free-port';

const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL cluster of its own (own port and data directory), for tests that restart or stop
 * Postgres without touching the shared one. Runs as the `postgres` user when the tests run as root,
 * as Postgres requires. `url` is for the `finops` role (password `finops`) on database `finops`.
 */
export class PrivatePostgres {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'finops-pg-'));
  port = 0;

  private get data(): string {
    return path.join(this.dir, 'data');
  }

  get url(): string {
    return `postgres://finops:finops@127.0.0.1:${this.port}/finops`;
  }

  get superuserUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  private run(bin: string, args: string[]): void {
    const cmd = path.join(PG_BIN, bin);
    if (process.getuid?.() === 0) execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'ignore' });
    else execFileSync(cmd, args, { stdio: 'ignore' });
  }

  /** Initialises the cluster the first time, starts it, and creates the `finops` role and database. */
  async start(): Promise<void> {
    const fresh = !this.port;
    if (fresh) {
      this.port = await freePort();
      if (process.getuid?.() === 0) {
        fs.chmodSync(this.dir, 0o755);
        execFileSync('chown', ['postgres:postgres', this.dir]);
      }
      this.run('initdb', ['-D', this.data, '-U', 'postgres', '--auth-local=trust', '--auth-host=trust', '-E', 'UTF8', '--locale=C.UTF-8']);
      fs.appendFileSync(path.join(this.data, 'postgresql.conf'),
        `\nlisten_addresses = '127.0.0.1'\nport = ${this.port}\nunix_socket_directories = '${this.dir}'\nshared_buffers = 64MB\nfsync = off\nmax_connections = 50\n`);
    }
    this.run('pg_ctl', ['-D', this.data, '-l', path.join(this.dir, 'postgres.log'), '-w', '-t', '60', 'start']);
    if (fresh) {
      const admin = new Client({ connectionString: this.superuserUrl });
      await admin.connect();
      await admin.query("CREATE ROLE finops LOGIN CREATEDB PASSWORD 'finops'");
      await admin.query('CREATE DATABASE finops OWNER finops');
      // The pipeline's group roles and logins, as on the local stack (the migrations grant to them).
      await admin.query(fs.readFileSync(path.resolve(__dirname, '../stack/postgres-roles.sql'), 'utf8'));
      await admin.end();
    }
  }

  /** `pg_ctl restart -m fast`: every session is terminated (57P01), then the server comes back. */
  restart(mode: 'fast' | 'immediate' = 'fast'): void {
    this.run('pg_ctl', ['-D', this.data, '-m', mode, '-w', '-t', '60', 'restart']);
  }

  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    this.run('pg_ctl', ['-D', this.data, '-m', mode, '-w', '-t', '60', 'stop']);
  }

  destroy(): void {
    try {
      this.stop('immediate');
    } catch {
      // already stopped
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
