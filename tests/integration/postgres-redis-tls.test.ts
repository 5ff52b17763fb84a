import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { CostGuard } from '../../producers/cost-guard';
import { CONTROL_KEY_PREFIX, ControlState } from '../../src/contracts/controls';
import { Overrides } from '../../src/config';
import { createPool } from '../../src/db/pool';
import { redisTls } from '../../src/redis/tls';
import { CertificateFiles, makeCertificates } from '../../testkit/certificates';
import { PrivatePostgres } from '../../testkit/private-postgres';
import { PrivateRedis } from '../../testkit/private-redis';

const CHAIN_ERROR = /unable to verify the first certificate|unable to get local issuer certificate|self-signed certificate/;

/** Turns TLS on in a private cluster and refuses every connection that is not TLS with a client certificate. */
async function requireTls(pg: PrivatePostgres, certs: CertificateFiles): Promise<void> {
  const tlsDir = path.join(pg.dir, 'tls');
  fs.mkdirSync(tlsDir);
  for (const f of [certs.serverCert, certs.serverKey, certs.caCert]) fs.copyFileSync(f, path.join(tlsDir, path.basename(f)));
  fs.chmodSync(path.join(tlsDir, 'server.key'), 0o600);
  if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', tlsDir]);
  const hba = path.join(pg.dir, 'data', 'pg_hba.conf');
  fs.writeFileSync(hba, 'local all all trust\nhostssl all all 127.0.0.1/32 trust clientcert=verify-ca\nhostnossl all all 127.0.0.1/32 reject\n');
  const admin = new Client({ connectionString: pg.superuserUrl });
  await admin.connect();
  await admin.query(`ALTER SYSTEM SET ssl_cert_file = '${tlsDir}/server.crt'`);
  await admin.query(`ALTER SYSTEM SET ssl_key_file = '${tlsDir}/server.key'`);
  await admin.query(`ALTER SYSTEM SET ssl_ca_file = '${tlsDir}/ca.crt'`);
  await admin.query('ALTER SYSTEM SET ssl = on');
  await admin.query('SELECT pg_reload_conf()');
  await admin.end();
}

async function sslOf(overrides: Overrides): Promise<{ ssl: boolean; version: string }> {
  const pool = createPool(overrides, 'finops-tls-test');
  try {
    return (await pool.query('SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0];
  } finally {
    await pool.end();
  }
}

describe('Postgres over TLS (a private cluster with ssl=on, hostssl only, client certificates)', () => {
  let certs: CertificateFiles;
  let pg: PrivatePostgres;
  let tls: Overrides;

  beforeAll(async () => {
    // The server certificate names db.finops.test only: verify-full to 127.0.0.1 must fail, verify-ca pass.
    certs = makeCertificates(['DNS:db.finops.test']);
    pg = new PrivatePostgres();
    await pg.start();
    await requireTls(pg, certs);
    tls = { DATABASE_URL: pg.url, DATABASE_SSL_MODE: 'verify-ca', DATABASE_SSL_CA_FILE: certs.caCert, DATABASE_SSL_CERT_FILE: certs.clientCert, DATABASE_SSL_KEY_FILE: certs.clientKey };
  });
  afterAll(() => {
    pg?.destroy();
    if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
  });

  it('createPool connects with TLS from the DATABASE_SSL_* settings', async () => {
    await expect(sslOf(tls)).resolves.toEqual({ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) });
  });

  it('or from sslmode/sslrootcert/sslcert/sslkey in DATABASE_URL (node-postgres reads them)', async () => {
    const url = `${pg.url}?sslmode=verify-ca&uselibpqcompat=true&sslrootcert=${certs.caCert}&sslcert=${certs.clientCert}&sslkey=${certs.clientKey}`;
    await expect(sslOf({ DATABASE_URL: url })).resolves.toMatchObject({ ssl: true });
  });

  it('a plaintext connection is refused by the server; so is one without a client certificate', async () => {
    await expect(sslOf({ DATABASE_URL: pg.url })).rejects.toThrow(/pg_hba\.conf rejects connection for host "127\.0\.0\.1".* no encryption/);
    await expect(sslOf({ ...tls, DATABASE_SSL_CERT_FILE: '', DATABASE_SSL_KEY_FILE: '' })).rejects.toThrow(/certificate/);
  });

  it('verify-full checks the host name; any mode that verifies refuses a server its CA did not sign', async () => {
    await expect(sslOf({ ...tls, DATABASE_SSL_MODE: 'verify-full' })).rejects.toThrow(/Hostname\/IP does not match certificate's altnames/);
    await expect(sslOf({ ...tls, DATABASE_SSL_CA_FILE: certs.otherCaCert })).rejects.toThrow(CHAIN_ERROR);
    await expect(sslOf({ ...tls, DATABASE_SSL_MODE: 'verify-full', DATABASE_SSL_CA_FILE: '' })).rejects.toThrow(CHAIN_ERROR);
  });
});

describe('Redis over TLS (a private redis-server --tls-port, client certificates required)', () => {
  let certs: CertificateFiles;
  let redis: PrivateRedis;
  let tls: Overrides;

  beforeAll(async () => {
    certs = makeCertificates(['DNS:localhost', 'IP:127.0.0.1']);
    redis = new PrivateRedis({ cert: certs.serverCert, key: certs.serverKey, ca: certs.caCert, authClients: 'yes' });
    await redis.start();
    tls = { REDIS_URL: redis.url, REDIS_TLS_CA_FILE: certs.caCert, REDIS_TLS_CERT_FILE: certs.clientCert, REDIS_TLS_KEY_FILE: certs.clientKey };
  });
  afterAll(async () => {
    await redis?.destroy();
    if (certs) fs.rmSync(certs.dir, { recursive: true, force: true });
  });

  const client = (o: Overrides) => new Redis(redis.url, { ...redisTls(o), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });

  it('the SDK\'s CostGuard reads a control through rediss:// with the CA and client certificate settings', async () => {
    const writer = client(tls);
    await writer.connect();
    const control: ControlState = { persona_id: 'tls-persona', level: 'switch_model', requests_per_minute: null, model_map: { 'gpt-4o': 'gpt-3.5-turbo-0125' },
      paused_until: null, probing: false, manual: true, reason: 'tls test', anomaly_id: null, updated_at: new Date().toISOString(), expires_at: null } as unknown as ControlState;
    await writer.set(CONTROL_KEY_PREFIX + 'tls-persona', JSON.stringify(control));
    writer.disconnect();
    const guard = await new CostGuard({ overrides: { ...tls, GUARD_REDIS_FAILURE_POLICY: 'closed' } }).start();
    try {
      await expect(guard.acquire('tls-persona', 'gpt-4o')).resolves.toMatchObject({ model: 'gpt-3.5-turbo-0125', degraded: false });
    } finally {
      await guard.close();
    }
  });

  /** The first error a client reports while connecting (ioredis emits the TLS reason as an 'error' event). */
  const connectError = async (o: Overrides): Promise<Error> => {
    const c = client(o);
    const reported = new Promise<Error>((resolve) => c.once('error', resolve));
    await c.connect().then(() => c.ping()).catch(() => undefined);
    const err = await Promise.race([reported, new Promise<Error>((resolve) => setTimeout(() => resolve(new Error('no error reported')), 5000))]);
    c.disconnect();
    return err;
  };

  it('refuses a server its CA did not sign, and a server refuses a client without a certificate', async () => {
    expect((await connectError({ ...tls, REDIS_TLS_CA_FILE: certs.otherCaCert })).message).toMatch(CHAIN_ERROR);
    expect((await connectError({ ...tls, REDIS_TLS_CA_FILE: '' })).message).toMatch(CHAIN_ERROR);
    expect((await connectError({ ...tls, REDIS_TLS_CERT_FILE: '', REDIS_TLS_KEY_FILE: '' })).message).toMatch(/certificate|ECONNRESET|closed/i);
  });
});
