import fs from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CostTracker } from '../../producers';
import { AvroCodec } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { setting } from '../../src/config';
import { DependencyError } from '../../src/errors';
import { readiness } from '../../src/http/readiness';
import { createTestEnv, TestEnv, uniqueId } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { waitFor } from '../../testkit/wait-for';

const USER = 'finops-registry';
const PASSWORD = 'pw-7c1f0e9a2b';
const upstream = new URL(setting('SCHEMA_REGISTRY_URL'));

/** A reverse proxy in front of the shared registry that answers 401 unless the request carries USER:PASSWORD. */
function basicAuthProxy(): Promise<{ url: string; seen: string[]; close: () => Promise<void> }> {
  const expected = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers.authorization ?? '(none)');
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"', 'content-type': 'application/json' }).end('{"error_code":401,"message":"Unauthorized"}');
      return;
    }
    const { authorization: _drop, host: _host, ...headers } = req.headers;
    const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on('error', () => res.writeHead(502).end());
    req.pipe(forward);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    const { port } = server.address() as AddressInfo;
    resolve({ url: `http://127.0.0.1:${port}${upstream.pathname}`, seen, close: () => new Promise((r) => server.close(() => r())) });
  }));
}

const withCredentials = (url: string, user: string, pass: string) => url.replace('http://', `http://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@`);
const failure = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a failure'); }, (err: Error) => err);

describe('schema registry behind HTTP Basic auth', () => {
  let proxy: Awaited<ReturnType<typeof basicAuthProxy>>;
  let env: TestEnv;
  let passwordFile: string;

  beforeAll(async () => {
    proxy = await basicAuthProxy();
    passwordFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'finops-registry-')), 'password');
    fs.writeFileSync(passwordFile, `${PASSWORD}\n`);
    // Fixtures register the test topics' schemas through the proxy, credentials in the URL.
    env = await createTestEnv('registryauth', { SCHEMA_REGISTRY_URL: withCredentials(proxy.url, USER, PASSWORD) });
  });
  afterAll(async () => {
    await env?.close();
    await proxy?.close();
    fs.rmSync(path.dirname(passwordFile), { recursive: true, force: true });
  });

  it('the SDK (credentials as settings, password from a file) publishes and the storage consumer decodes through it', async () => {
    const overrides = { ...env.overrides, SCHEMA_REGISTRY_URL: proxy.url, SCHEMA_REGISTRY_USERNAME: USER, SCHEMA_REGISTRY_PASSWORD_FILE: passwordFile };
    const tracker = new CostTracker({ overrides });
    env.cleanup(() => tracker.close());
    await startStorage(env, { SCHEMA_REGISTRY_URL: proxy.url, SCHEMA_REGISTRY_USERNAME: USER, SCHEMA_REGISTRY_PASSWORD_FILE: passwordFile });
    const persona = `${env.id}-persona`;
    const t = await tracker.trackVectorDbCost({ vectorOperation: 'query', units: 3, personaId: persona, postId: `${env.id}-post` });
    await waitFor(async () => (await env.pool.query('SELECT 1 FROM cost_events WHERE event_id = $1', [t.eventId])).rowCount === 1, { what: 'stored event', timeoutMs: 60_000 });
    await expect(readiness.schemaRegistry(proxy.url, overrides)()).resolves.toBeUndefined();
    expect(proxy.seen.length).toBeGreaterThan(3);
    expect(proxy.seen.every((h) => h.startsWith('Basic '))).toBe(true);
  });

  it('wrong or missing credentials are a clear, non-retriable error that never shows the password', async () => {
    const subject = `test.${uniqueId('regauth')}.x`;
    const wrong = await failure(new AvroCodec(withCredentials(proxy.url, USER, 'not-the-pw-123')).register(subject, loadSchema('cost-event')));
    expect(wrong).toBeInstanceOf(DependencyError);
    expect((wrong as DependencyError).retriable).toBe(false);
    expect(wrong.message).toMatch(/answered 401: the registry refused the credentials; set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD_FILE/);
    expect(wrong.message).not.toMatch(/not-the-pw-123|finops-registry:/);

    const none = await failure(new AvroCodec(proxy.url).latestSchemaId(subject));
    expect(none.message).toMatch(/answered 401: the registry asks for credentials/);
    await expect(readiness.schemaRegistry(proxy.url)()).rejects.toThrow(/registry answered 401/);
  });

  it('an unreachable registry names the URL without its credentials', async () => {
    const closed = withCredentials(proxy.url, USER, PASSWORD).replace(/:\d+\//, ':1/');
    const err = await failure(new AvroCodec(closed).latestSchemaId('anything'));
    expect(err.message).toMatch(/unreachable at http:\/\/127\.0\.0\.1:1\/apis\/ccompat\/v7/);
    expect(err.message).not.toContain(PASSWORD);
    expect(err.message).not.toContain(USER);
  });
});
