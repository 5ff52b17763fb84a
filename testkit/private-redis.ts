import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { freePort } from './free-port';

export interface PrivateRedisTls {
  cert: string;
  key: string;
  /** CA for client certificates; with `authClients: 'yes'` a client must present one it signed. */
  ca: string;
  authClients?: 'yes' | 'no' | 'optional';
}

/**
 * A redis-server of its own that speaks only TLS (`--port 0 --tls-port`), in memory, for tests of
 * rediss:// clients without touching the shared Redis. Debian's redis 7 has TLS built in.
 */
export class PrivateRedis {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'finops-redis-'));
  port = 0;
  private child: ChildProcess | undefined;

  constructor(private readonly tlsFiles: PrivateRedisTls) {}

  get url(): string {
    return `rediss://127.0.0.1:${this.port}`;
  }

  async start(timeoutMs = 20_000): Promise<void> {
    if (!this.port) this.port = await freePort();
    const t = this.tlsFiles;
    const out = fs.openSync(path.join(this.dir, 'redis.log'), 'a');
    this.child = spawn('redis-server', ['--port', '0', '--tls-port', String(this.port), '--bind', '127.0.0.1', '--tls-cert-file', t.cert, '--tls-key-file', t.key,
      '--tls-ca-cert-file', t.ca, '--tls-auth-clients', t.authClients ?? 'no', '--save', '', '--appendonly', 'no', '--dir', this.dir], { stdio: ['ignore', out, out] });
    const child = this.child;
    child.once('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + timeoutMs;
    // Ready once it accepts a TCP connection on the TLS port (the handshake itself is the caller's test).
    for (;;) {
      if (!this.child) throw new Error(`redis-server exited during start; see ${path.join(this.dir, 'redis.log')}`);
      const listening = await new Promise<boolean>((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port: this.port, rejectUnauthorized: false }, () => (s.end(), resolve(true)));
        s.once('error', (err: NodeJS.ErrnoException) => (s.destroy(), resolve(err.code !== 'ECONNREFUSED')));
      });
      if (listening) return;
      if (Date.now() > deadline) throw new Error(`private Redis not listening after ${timeoutMs} ms; see ${this.dir}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async destroy(): Promise<void> {
    const child = this.child;
    if (child) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
