import { CostTracker } from '../../producers';
import { setting } from '../../src/config';
import { TcpProxy } from '../../testkit/tcp-proxy';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { RoleProcess, spawnRoles } from '../../testkit/role-process';
import { waitFor } from '../../testkit/wait-for';

/**
 * A role started while a dependency is down waits for it (unready, alive, logging each retry) and
 * runs once it answers. The dependency goes away behind a TcpProxy; the shared server never stops.
 */
const PROCESS_SETTINGS = { STARTUP_RETRY_INITIAL_MS: '200', STARTUP_RETRY_MAX_MS: '1000', STORAGE_BATCH_MAX_WAIT_MS: '20' };
const WAIT_WHILE_DOWN_MS = 6000;

async function probe(port: number, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.json() };
}

describe('a role started while a dependency is down', () => {
  let env: TestEnv;
  let tracker: CostTracker;
  const procs: RoleProcess[] = [];
  const proxies: TcpProxy[] = [];

  beforeAll(async () => {
    env = await createTestEnv('roledeps');
    tracker = new CostTracker({ overrides: env.overrides });
    await tracker.start();
  });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });
  afterAll(async () => {
    await tracker.close();
    await env.close();
  });

  async function cutProxyTo(url: URL): Promise<TcpProxy> {
    const proxy = new TcpProxy(url.hostname, Number(url.port));
    proxies.push(proxy);
    await proxy.start();
    await proxy.cut();
    return proxy;
  }

  async function expectWaitingUnready(proc: RoleProcess, missing: string, present: string): Promise<void> {
    const port = await proc.listening;
    await new Promise((r) => setTimeout(r, WAIT_WHILE_DOWN_MS));
    expect(proc.child.exitCode).toBeNull();
    expect((await probe(port, '/health')).status).toBe(200);
    const ready = await probe(port, '/ready');
    expect(ready.status).toBe(503);
    expect(ready.body.checks[missing]).not.toBe('ok');
    expect(ready.body.checks[present]).toBe('ok');
    expect(ready.body.checks.startup).toMatch(/waiting for/);
    const retries = proc.output().filter((l) => l.includes('"msg":"waiting for') && l.includes(missing));
    expect(retries.length).toBeGreaterThanOrEqual(3);
  }

  async function expectStoresEvents(proc: RoleProcess, tag: string): Promise<void> {
    const port = await proc.running;
    await waitFor(async () => (await probe(port, '/ready')).status === 200, { timeoutMs: 30_000, intervalMs: 250, what: '/ready 200' });
    const ids = await Promise.all(
      Array.from({ length: 50 }, (_, i) => tracker.trackVectorDbCost({ vectorOperation: 'query', units: 1 + i, personaId: `${env.id}-p${i % 5}`, postId: `${tag}-post-${i}`, operation: tag }).then((t) => t.eventId)),
    );
    await waitFor(
      async () => Number((await env.pool.query('SELECT count(*) FROM cost_events WHERE operation = $1 AND event_id = ANY($2)', [tag, ids])).rows[0].count) === ids.length,
      { timeoutMs: 60_000, intervalMs: 250, what: `${ids.length} stored rows` },
    );
  }

  it('storage with the schema registry down waits, unready, then runs and stores events once it answers', async () => {
    const registry = new URL(setting('SCHEMA_REGISTRY_URL'));
    const proxy = await cutProxyTo(registry);
    const proc = spawnRoles(['storage'], { ...env.overrides, ...PROCESS_SETTINGS, STORAGE_GROUP_ID: `test.${env.id}.storage-registry`, SCHEMA_REGISTRY_URL: `http://127.0.0.1:${proxy.port}${registry.pathname}` });
    procs.push(proc);
    await expectWaitingUnready(proc, 'schema-registry', 'postgres');
    await proxy.restore();
    await expectStoresEvents(proc, `${env.id}-registry`);
  });

  it('storage with the Kafka broker down waits, unready, then runs and stores events once it answers', async () => {
    // Only the bootstrap address goes through the proxy: with it cut, no client can reach the cluster.
    const [host, port] = setting('KAFKA_BROKERS').split(',')[0].split(':');
    const proxy = await cutProxyTo(new URL(`tcp://${host}:${port}`));
    const proc = spawnRoles(['storage'], { ...env.overrides, ...PROCESS_SETTINGS, STORAGE_GROUP_ID: `test.${env.id}.storage-kafka`, KAFKA_BROKERS: `127.0.0.1:${proxy.port}` });
    procs.push(proc);
    await expectWaitingUnready(proc, 'kafka', 'postgres');
    await proxy.restore();
    await expectStoresEvents(proc, `${env.id}-kafka`);
  });

  it('storage with Postgres down waits, unready, then runs and stores events once it answers', async () => {
    const db = new URL(process.env.DATABASE_URL!);
    const proxy = await cutProxyTo(db);
    const viaProxy = new URL(db);
    viaProxy.port = String(proxy.port);
    const proc = spawnRoles(['storage'], { ...env.overrides, ...PROCESS_SETTINGS, STORAGE_GROUP_ID: `test.${env.id}.storage-postgres`, DATABASE_URL: viaProxy.toString() });
    procs.push(proc);
    await expectWaitingUnready(proc, 'postgres', 'schema-registry');
    await proxy.restore();
    await expectStoresEvents(proc, `${env.id}-postgres`);
  });
});
