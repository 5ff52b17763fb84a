import { ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import Redis from 'ioredis';
import { RunningApi } from '../../api';
import type { BreakerAdmin } from '../../consumers/breaker/control-admin';
import { breakerControlAdmin } from '../../app/roles';
import { CostTracker } from '../../producers';
import { setting } from '../../src/config';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { freePort } from '../../testkit/pipeline-settings';
import { startStorage } from '../helpers/storage';
import { waitFor } from '../../testkit/wait-for';
import { call, OPERATOR_TOKEN, READ_TOKEN, Res, startTestApi } from './api-support';

/**
 * Security regression suite: hostile requests against the real API on the real stack (Postgres,
 * Redis, Kafka for the breaker's admin). Every response must carry the expected status and a
 * {error, message} body that names the problem without echoing tokens, secrets, stack traces or SQL.
 */
const CURSOR_SECRET = 'security-suite-cursor-secret-0123456789';
const SECRETS = [READ_TOKEN, OPERATOR_TOKEN, CURSOR_SECRET];
const LEAKS = [/\n\s+at /, /node_modules/, /\bSELECT\b/, /\bINSERT INTO\b/, /\bFROM (cost_events|post_costs|budgets)\b/, /invalid byte sequence/, /MaxRetriesPerRequest/, /ioredis/i, /\bstack\b/];
let hostile = 0;

function assertNoLeak(text: string): void {
  for (const s of SECRETS) expect(text).not.toContain(s);
  for (const re of LEAKS) expect(text).not.toMatch(re);
}

function assertError(r: { status: number; body: unknown; text: string }, status: number, code: string, message?: RegExp): void {
  expect({ status: r.status, error: (r.body as { error?: string })?.error }).toEqual({ status, error: code });
  const msg = (r.body as { message?: unknown }).message;
  expect(typeof msg).toBe('string');
  expect((msg as string).length).toBeGreaterThan(5);
  if (message) expect(msg).toMatch(message);
  assertNoLeak(r.text);
}

async function send(api: RunningApi, method: string, path: string, opts: { token?: string | null; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
  hostile++;
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  const token = opts.token === undefined ? READ_TOKEN : opts.token;
  if (token) headers.authorization = `Bearer ${token}`;
  if (opts.body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
  const res = await fetch(api.url + path, { method, headers, body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the assertions say so
  }
  return { status: res.status, body, text, headers: res.headers };
}

/** Raw bytes over TCP (for what fetch refuses to send: dot segments, bad framing, slow bodies). */
function raw(port: number, chunks: string[], opts: { gapMs?: number; timeoutMs?: number } = {}): Promise<{ status: number; body: unknown; text: string; elapsedMs: number }> {
  hostile++;
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response within ${opts.timeoutMs ?? 10_000} ms`));
    }, opts.timeoutMs ?? 10_000);
    socket.on('data', (d) => (data += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      const text = data.slice(data.indexOf('\r\n\r\n') + 4);
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON
      }
      resolve({ status, body, text, elapsedMs: Date.now() - t0 });
    });
    socket.on('connect', async () => {
      for (const c of chunks) {
        if (socket.destroyed) return;
        socket.write(c);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
      // keep the socket open: the server decides when the exchange ends
    });
  });
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  await waitFor(async () => {
    if (probe.status !== 'ready') await probe.connect().catch(() => undefined);
    return (await probe.ping().catch(() => null)) === 'PONG';
  }, { what: `redis-server on ${port}` });
  probe.disconnect();
  return child;
}

describe('security regression suite: hostile requests against the real API', () => {
  let env: TestEnv;
  let api: RunningApi;
  let post: string;
  let persona: string;
  let redis: Redis;

  beforeAll(async () => {
    env = await createTestEnv('apisecurity');
    const tracker = new CostTracker({ overrides: env.overrides });
    env.cleanup(() => tracker.close());
    await startStorage(env, { API_CACHE_PREFIX: `test:${env.id}:` });
    api = await startTestApi(env, { API_CURSOR_SECRET: CURSOR_SECRET, API_REQUEST_TIMEOUT_MS: '1500', API_HEADERS_TIMEOUT_MS: '1000', API_RATE_LIMIT_MAX: '100000', API_RATE_LIMIT_ANONYMOUS_MAX: '100000' }, { controls: breakerControlAdmin });
    redis = new Redis(setting('REDIS_URL', env.overrides));
    env.cleanup(() => redis.quit());
    post = `${env.id}-post`;
    persona = `${env.id}-persona`;
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 3; i++) await tracker.trackVectorDbCost({ vectorOperation: 'query', units: 10 + i, personaId: persona, postId: post, eventTime: new Date(t0 + i * 1000) });
    await waitFor(async () => (await env.pool.query('SELECT 1 FROM post_costs WHERE post_id = $1 AND event_count = 3', [post])).rowCount, { what: 'seeded post stored' });
  });
  afterAll(async () => {
    await env.close();
    process.stdout.write(`security suite: ${hostile} hostile requests sent\n`);
  });

  describe('NUL and other control characters: 400 control_character naming the field (ids that reached Postgres were 500, SQLSTATE 22021)', () => {
    const cases: [string, string, string, unknown, RegExp][] = [
      ['NUL in post id', 'GET', '/costs/post/a%00b', undefined, /path parameter "post_id".*U\+0000/],
      ['NUL in post id (summary)', 'GET', '/costs/post/a%00b/summary', undefined, /path parameter "post_id"/],
      ['NUL in breakdown persona_id', 'GET', '/costs/breakdown?start_date=2025-01-01&end_date=2025-01-02&persona_id=a%00b', undefined, /query parameter "persona_id"/],
      ['NUL in anomalies persona_id', 'GET', '/anomalies?persona_id=%00', undefined, /query parameter "persona_id"/],
      ['NUL in anomalies type', 'GET', '/anomalies?type=cost%00spike', undefined, /query parameter "type"/],
      ['NUL in budgets persona_id', 'GET', '/budgets?persona_id=x%00', undefined, /query parameter "persona_id"/],
      ['NUL in PUT budget persona', 'PUT', '/budgets/p%00q/daily', { limit_usd: '1' }, /path parameter "persona_id"/],
      ['NUL in resume persona', 'POST', '/controls/p%00q/resume', {}, /path parameter "persona_id"/],
      ['NUL in resume reason', 'POST', '/controls/p/resume', { reason: 'a\u0000b' }, /body field "reason"/],
      ['NUL in a body field name', 'PUT', '/budgets/p/daily', { limit_usd: '1', 'x\u0000': 1 }, /body field "x\\u0000"/],
      ['NUL in DELETE budget persona', 'DELETE', '/budgets/p%00/daily', undefined, /path parameter "persona_id"/],
      ['NUL in audit persona_id', 'GET', '/audit?persona_id=%00', undefined, /query parameter "persona_id"/],
      ['NUL in cursor', 'GET', `/costs/post/x?cursor=%00`, undefined, /query parameter "cursor"/],
      ['ESC in post id', 'GET', '/costs/post/a%1B%5B31m', undefined, /U\+001B/],
      ['newline in persona_id (log forging)', 'GET', '/anomalies?persona_id=a%0D%0Aadmin', undefined, /U\+000D/],
      ['DEL in anomaly type', 'GET', '/anomalies?type=%7F', undefined, /U\+007F/],
      ['C1 control in post id', 'GET', '/costs/post/a%C2%85', undefined, /U\+0085/],
    ];
    it.each(cases)('%s', async (_name, method, path, body, message) => {
      const operator = method !== 'GET' || path.startsWith('/audit');
      assertError(await send(api, method, path, { token: operator ? OPERATOR_TOKEN : READ_TOKEN, body }), 400, 'control_character', message);
    });
  });

  describe('cursors: forged, tampered and out-of-range cursors are 400 invalid_cursor', () => {
    it('pages with the cursor the API issued', async () => {
      const first = await send(api, 'GET', `/costs/post/${post}?limit=2`);
      expect(first.status).toBe(200);
      const next = (first.body as { page: { next_cursor: string } }).page.next_cursor;
      const second = await send(api, 'GET', `/costs/post/${post}?limit=2&cursor=${next}`);
      expect(second.status).toBe(200);
      expect((second.body as { audit_trail: unknown[] }).audit_trail).toHaveLength(1);
      // the same cursor is refused by another post
      assertError(await send(api, 'GET', `/costs/post/${env.id}-other?limit=2&cursor=${next}`), 400, 'invalid_cursor');
      // tampered: the payload of one cursor with the signature of another
      const [, mac] = next.split('.');
      assertError(await send(api, 'GET', `/costs/post/${post}?cursor=${b64(['1', 'x'])}.${mac}`), 400, 'invalid_cursor');
    });

    const forged: [string, string][] = [
      ['cursor forged with a time beyond bigint (was 500, SQLSTATE 22003)', b64(['9999999999999999999', 'e'])],
      ['cursor forged with the largest bigint (was 500, SQLSTATE 22008 interval out of range)', b64(['9223372036854775807', 'e'])],
      ['cursor forged with the smallest bigint (was 500, SQLSTATE 22008 timestamp out of range)', b64(['-9223372036854775808', 'e'])],
      ['cursor forged without a signature (was accepted: year 5138)', b64(['99999999999999999', 'e'])],
      ['cursor forged with a NUL event id', b64(['1754000000000000', 'a\u0000b'])],
      ['cursor forged with a wrong shape', b64({ t: 1 })],
      ['cursor that is not base64', '!!!'],
      ['cursor of 3000 characters', 'A'.repeat(3000)],
      ['cursor with a truncated signature', `${b64(['1', 'e'])}.AAAA`],
    ];
    it.each(forged)('%s', async (_name, cursor) => {
      assertError(await send(api, 'GET', `/costs/post/${post}?cursor=${encodeURIComponent(cursor)}`), 400, 'invalid_cursor', /next_cursor/);
    });

    it('cursor signed with the real key but out of range is still refused (validated in full)', async () => {
      const { CursorSigner } = await import('../../api/cursor');
      const signer = CursorSigner.withKey(CURSOR_SECRET);
      for (const fields of [['99999999999999999999', 'e'], ['253402300800000000', 'e'], ['1', 'x'.repeat(300)]]) {
        assertError(await send(api, 'GET', `/costs/post/${post}?cursor=${signer.sign(`post:${post}`, fields)}`), 400, 'invalid_cursor', /out of range|invalid event id/);
      }
      assertError(await send(api, 'GET', `/audit?cursor=${signer.sign('audit', ['99999999999999999999'])}`, { token: OPERATOR_TOKEN }), 400, 'invalid_cursor');
      assertError(await send(api, 'GET', `/audit?cursor=${b64(['5'])}`, { token: OPERATOR_TOKEN }), 400, 'invalid_cursor');
    });
  });

  describe('Redis down: controls answer 503 with Retry-After (were 500, MaxRetriesPerRequestError)', () => {
    let down: RunningApi;
    let redisProc: ChildProcess;
    beforeAll(async () => {
      const port = await freePort();
      redisProc = await startRedis(port);
      down = await startTestApi(env, { REDIS_URL: `redis://127.0.0.1:${port}` }, { controls: breakerControlAdmin });
      await (down.ctx.controls as BreakerAdmin).override(`${env.id}-held`, 'pause', 'test', 'held by the suite');
      expect((await send(down, 'GET', '/controls')).status).toBe(200);
      const exited = new Promise((r) => redisProc.once('exit', r));
      redisProc.kill('SIGKILL');
      await exited;
    });

    it('Redis down: GET /controls → 503 dependency_unavailable with Retry-After', async () => {
      const r = await send(down, 'GET', '/controls');
      assertError(r, 503, 'dependency_unavailable', /redis is unavailable/);
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
    });

    it('Redis down: POST /controls/:id/resume → 503 dependency_unavailable with Retry-After', async () => {
      const r = await send(down, 'POST', `/controls/${env.id}-held/resume`, { token: OPERATOR_TOKEN, body: { reason: 'outage' } });
      assertError(r, 503, 'dependency_unavailable', /redis is unavailable/);
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
    });

    it('Redis down: reads keep answering from Postgres', async () => {
      const r = await send(down, 'GET', `/costs/post/${post}/summary`);
      expect(r.status).toBe(200);
      expect(r.headers.get('x-cache')).toBe('bypass');
    });
  });

  describe('Postgres unreachable: 503 with Retry-After, not 500', () => {
    let noDb: RunningApi;
    let closed: number;
    beforeAll(async () => {
      closed = await freePort();
      noDb = await startTestApi(env, { DATABASE_URL: `postgres://finops:finops@127.0.0.1:${closed}/finops_test` });
    });
    it.each([
      ['post breakdown', `/costs/post/x`],
      ['breakdown', '/costs/breakdown?start_date=2025-01-01&end_date=2025-01-02'],
      ['anomalies', '/anomalies'],
    ])('Postgres unreachable: %s → 503 dependency_unavailable', async (_name, path) => {
      const r = await send(noDb, 'GET', path);
      assertError(r, 503, 'dependency_unavailable', /unavailable; retry after/);
      expect(r.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(r.text).not.toContain(String(closed)); // no connection details
    });
  });

  it('a data error in the breaker is not retried while the persona lock is held (was 5 retries)', async () => {
    const admin = api.ctx.controls as BreakerAdmin;
    let inserts = 0;
    const query = api.ctx.pool.query.bind(api.ctx.pool);
    const spy = jest.spyOn(api.ctx.pool, 'query').mockImplementation(((text: unknown, ...rest: unknown[]) => {
      if (typeof text === 'string' && text.includes('INSERT INTO control_transitions')) inserts++;
      return (query as (...a: unknown[]) => unknown)(text, ...rest);
    }) as never);
    try {
      await expect(admin.resume(`${env.id}\u0000nul`, 'test', 'data error')).rejects.toMatchObject({ code: '22021' });
    } finally {
      spy.mockRestore();
    }
    expect(inserts).toBe(1);
    // the lock was released at once: the persona can be stepped again without waiting out its TTL
    const t0 = Date.now();
    await admin.resume(`${env.id}-after-nul`, 'test', 'fine');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  describe('auth and scopes', () => {
    const cases: [string, string, string, string | null, Record<string, string>, number, string][] = [
      ['no token', 'GET', '/costs/post/x', null, {}, 401, 'unauthorized'],
      ['unknown token', 'GET', '/anomalies', 'not-a-real-token-at-all', {}, 401, 'unauthorized'],
      ['Basic auth', 'GET', '/budgets', null, { authorization: 'Basic dXNlcjpwYXNz' }, 401, 'unauthorized'],
      ['two tokens in one header', 'GET', '/budgets', null, { authorization: `Bearer ${READ_TOKEN} ${READ_TOKEN}` }, 401, 'unauthorized'],
      ['token in the query string only', 'GET', `/budgets?access_token=${READ_TOKEN}`, null, {}, 401, 'unauthorized'],
      ['8 KB bearer token', 'GET', '/budgets', 'x'.repeat(8192), {}, 401, 'unauthorized'],
      ['read token PUT budget', 'PUT', '/budgets/p/daily', READ_TOKEN, {}, 403, 'forbidden'],
      ['read token DELETE budget', 'DELETE', '/budgets/p/daily', READ_TOKEN, {}, 403, 'forbidden'],
      ['read token resume', 'POST', '/controls/p/resume', READ_TOKEN, {}, 403, 'forbidden'],
      ['read token override', 'POST', '/controls/p/override', READ_TOKEN, {}, 403, 'forbidden'],
      ['read token GET /audit', 'GET', '/audit', READ_TOKEN, {}, 403, 'forbidden'],
      ['no token GET /audit', 'GET', '/audit', null, {}, 401, 'unauthorized'],
    ];
    it.each(cases)('%s', async (_name, method, path, token, headers, status, code) => {
      const body = method === 'GET' || method === 'DELETE' ? undefined : method === 'PUT' ? { limit_usd: '1' } : {};
      const r = await send(api, method, path, { token, headers, body });
      assertError(r, status, code);
      if (status === 401) expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    });
  });

  describe('injection and traversal: parameters are data, never SQL or paths', () => {
    it("SQL in a persona id is just an unknown persona (200, nothing spent, no cache key)", async () => {
      const evil = `${env.id}' OR '1'='1' --`;
      const r = await send(api, 'GET', `/costs/breakdown?start_date=2025-01-01&end_date=2025-01-31&persona_id=${encodeURIComponent(evil)}`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ persona_id: evil, total_cost: '0.000000000', event_count: 0 });
      assertNoLeak(r.text);
      expect(await redis.keys(`test:${env.id}:*${env.id}'*`)).toEqual([]);
    });
    it('SQL in a post id is 404 not_found', async () => {
      assertError(await send(api, 'GET', `/costs/post/${encodeURIComponent("1'; DROP TABLE budgets; --")}`), 404, 'not_found');
      expect((await env.pool.query("SELECT to_regclass('budgets') AS t")).rows[0].t).toBe('budgets');
    });
    it('UNION in an anomaly type finds nothing', async () => {
      const r = await send(api, 'GET', `/anomalies?type=${encodeURIComponent("x' UNION SELECT token FROM secrets --")}`);
      expect(r).toMatchObject({ status: 200, body: { count: 0 } });
    });
    it('SQL in a date is 400 invalid_date', async () => {
      assertError(await send(api, 'GET', `/anomalies?since=${encodeURIComponent("2025-01-01'; --")}`), 400, 'invalid_date', /since/);
    });
    it('prototype pollution in a body is refused', async () => {
      const r = await send(api, 'PUT', '/budgets/p/daily', { token: OPERATOR_TOKEN, raw: '{"limit_usd":"1","__proto__":{"admin":true}}', headers: { 'content-type': 'application/json' } });
      expect(r.status).toBe(400);
      assertError(r, 400, (r.body as { error: string }).error);
      expect(['invalid_json', 'unknown_field']).toContain((r.body as { error: string }).error);
    });
    const traversal: [string, string][] = [
      ['dot segments', `GET /costs/post/../../etc/passwd HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${READ_TOKEN}\r\nConnection: close\r\n\r\n`],
      ['encoded dot segments', `GET /costs/post/..%2F..%2Fetc%2Fpasswd HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${READ_TOKEN}\r\nConnection: close\r\n\r\n`],
      ['metrics through the OpenAPI path', `GET /openapi.json/../metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`],
    ];
    it.each(traversal)('path traversal: %s is 404 not_found', async (_name, request) => {
      const r = await raw(api.port, [request]);
      assertError(r, 404, 'not_found');
    });
    it('malformed percent-encoding is 400 invalid_url', async () => {
      assertError(await send(api, 'GET', '/costs/post/%E0%A4%A'), 400, 'invalid_url');
    });
  });

  describe('sizes, dates and limits', () => {
    const cases: [string, string, number, string, RegExp | undefined][] = [
      ['post id of 257 characters', `/costs/post/${'p'.repeat(257)}`, 400, 'invalid_value', /post_id/],
      ['post id over the 512-character router limit', `/costs/post/${'p'.repeat(600)}`, 414, 'uri_too_long', undefined],
      ['persona id of 257 characters', `/anomalies?persona_id=${'p'.repeat(257)}`, 400, 'invalid_value', /persona_id/],
      ['month 13', '/costs/breakdown?start_date=2025-13-01&end_date=2025-13-02', 400, 'invalid_date', /start_date/],
      ['year 0', '/costs/breakdown?start_date=0000-01-01&end_date=0000-01-02', 400, 'invalid_date', /start_date/],
      ['six-digit year', '/costs/breakdown?start_date=275760-01-01&end_date=275760-01-02', 400, 'invalid_date', /start_date/],
      ['year 9999 pushed into 10000 by its offset (was 400 invalid_input from Postgres)', '/costs/breakdown?start_date=9999-12-31T23:59:59-14:00&end_date=9999-12-31T23:59:59-14:00', 400, 'invalid_date', /outside years 0001–9999/],
      ['29 February of a common year', '/anomalies?since=2025-02-29', 400, 'invalid_date', /since/],
      ['hour 25', '/anomalies?since=2025-01-01T25:00:00Z', 400, 'invalid_date', /since/],
      ['range of 400 days', '/costs/breakdown?start_date=2024-01-01&end_date=2025-02-03', 400, 'range_too_large', /366/],
      ['negative limit', `/costs/post/x?limit=-1`, 400, 'invalid_limit', /limit/],
      ['exponent limit', `/costs/post/x?limit=1e3`, 400, 'invalid_limit', /limit/],
      ['20-digit limit', `/anomalies?limit=99999999999999999999`, 400, 'invalid_limit', /limit/],
      ['zero limit', `/anomalies?limit=0`, 400, 'invalid_limit', /limit/],
      ['limit given twice', `/anomalies?limit=1&limit=2`, 400, 'invalid_value', /limit/],
    ];
    it.each(cases)('%s', async (_name, path, status, code, message) => {
      assertError(await send(api, 'GET', path), status, code, message);
    });
    it('audit limit 1001 is 400 invalid_limit', async () => {
      assertError(await send(api, 'GET', '/audit?limit=1001', { token: OPERATOR_TOKEN }), 400, 'invalid_limit');
    });
    it('a 20 KB body is 413 body_too_large', async () => {
      assertError(await send(api, 'PUT', '/budgets/p/daily', { token: OPERATOR_TOKEN, body: { limit_usd: '1', pad: 'x'.repeat(20_000) } }), 413, 'body_too_large', /16384 bytes/);
    });
    it('a 20 KB header is 431 header_too_large', async () => {
      const r = await raw(api.port, [`GET /costs/post/x HTTP/1.1\r\nHost: x\r\nX-Pad: ${'x'.repeat(20_000)}\r\n\r\n`]);
      assertError(r, 431, 'header_too_large');
    });
    it('a reason of 1001 characters is 400 invalid_value', async () => {
      assertError(await send(api, 'POST', '/controls/p/resume', { token: OPERATOR_TOKEN, body: { reason: 'r'.repeat(1001) } }), 400, 'invalid_value', /reason/);
    });
  });

  describe('methods, headers and bodies: framework errors use the documented codes', () => {
    const methods: [string, string, string, RegExp][] = [
      ['DELETE on a read route', 'DELETE', '/costs/post/x', /GET/],
      ['PATCH on a budget', 'PATCH', '/budgets/p/daily', /PUT, DELETE/],
      ['POST on /anomalies', 'POST', '/anomalies', /GET/],
    ];
    it.each(methods)('%s is 405 method_not_allowed with Allow', async (_name, method, path, allowed) => {
      const r = await send(api, method, path, { token: OPERATOR_TOKEN, body: method === 'DELETE' ? undefined : {} });
      assertError(r, 405, 'method_not_allowed', allowed);
      expect(r.headers.get('allow')).toMatch(allowed);
    });
    it('an unknown route is 404 not_found, and /metrics is not on the API port', async () => {
      assertError(await send(api, 'GET', '/admin'), 404, 'not_found');
      assertError(await send(api, 'GET', '/metrics', { token: null }), 404, 'not_found');
    });
    const bodies: [string, string, Record<string, string>, number, string][] = [
      ['text/plain body', 'limit_usd=1', { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
      ['form-encoded body', 'limit_usd=1', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'unsupported_media_type'],
      ['invalid JSON', '{"limit_usd": "1",', { 'content-type': 'application/json' }, 400, 'invalid_json'],
      ['empty JSON body', '', { 'content-type': 'application/json' }, 400, 'empty_body'],
      ['JSON array', '[]', { 'content-type': 'application/json' }, 400, 'invalid_value'],
      ['JSON null', 'null', { 'content-type': 'application/json' }, 400, 'invalid_value'],
      ['number limit', '{"limit_usd": 1e400}', { 'content-type': 'application/json' }, 400, 'invalid_value'],
      ['exponent limit string', '{"limit_usd": "1e5"}', { 'content-type': 'application/json' }, 400, 'invalid_limit_usd'],
      ['negative limit string', '{"limit_usd": "-1"}', { 'content-type': 'application/json' }, 400, 'invalid_limit_usd'],
      ['limit above numeric(20,9)', '{"limit_usd": "100000000000"}', { 'content-type': 'application/json' }, 400, 'invalid_limit_usd'],
      ['nested unknown field', '{"limit_usd": "1", "x": {"y": {"z": 1}}}', { 'content-type': 'application/json' }, 400, 'unknown_field'],
    ];
    it.each(bodies)('PUT budget with %s', async (_name, rawBody, headers, status, code) => {
      assertError(await send(api, 'PUT', `/budgets/${env.id}-b/daily`, { token: OPERATOR_TOKEN, raw: rawBody, headers }), status, code);
    });
    it('an override to an unknown level is 400 invalid_value', async () => {
      assertError(await send(api, 'POST', `/controls/${env.id}-o/override`, { token: OPERATOR_TOKEN, body: { level: 'off', reason: 'x' } }), 400, 'invalid_value', /level/);
    });
    it('a request with both Content-Length and Transfer-Encoding is 400 bad_request', async () => {
      const r = await raw(api.port, [`PUT /budgets/p/daily HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`]);
      assertError(r, 400, 'bad_request');
    });
  });

  describe('timeouts: a stalled client is cut off with 408', () => {
    it('an authenticated partial body is answered 408 request_timeout within the request timeout', async () => {
      const r = await raw(api.port, [`PUT /budgets/p/daily HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${OPERATOR_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"limit_usd":`], { timeoutMs: 8000 });
      assertError(r, 408, 'request_timeout');
      expect(r.elapsedMs).toBeLessThan(5000);
    });
    it('headers sent a byte at a time (slowloris) are answered 408', async () => {
      const r = await raw(api.port, 'GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaa'.split(''), { gapMs: 200, timeoutMs: 10_000 });
      assertError(r, 408, 'request_timeout');
      expect(r.elapsedMs).toBeLessThan(8000);
    });
  });

  describe('rate limits: per token in Redis, 429 with Retry-After', () => {
    let limited: RunningApi;
    beforeAll(async () => {
      limited = await startTestApi(env, { API_RATE_LIMIT_MAX: '5', API_RATE_LIMIT_ANONYMOUS_MAX: '3', API_RATE_LIMIT_WINDOW_MS: '60000', API_CACHE_PREFIX: `test:${env.id}:rl-${Date.now()}:` }, { controls: null });
    });
    it('the sixth request of a token in the window is 429 rate_limited with Retry-After; another token is unaffected', async () => {
      for (let i = 0; i < 5; i++) expect((await send(limited, 'GET', `/costs/post/${post}/summary`)).status).toBe(200);
      const r = await send(limited, 'GET', `/costs/post/${post}/summary`);
      assertError(r, 429, 'rate_limited', /5 requests per 60 s/);
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await send(limited, 'GET', `/costs/post/${post}/summary`, { token: OPERATOR_TOKEN })).status).toBe(200);
      // counted in Redis: a second replica on the same Redis sees the same budget
      expect((await redis.keys(`test:${env.id}:rl-*`)).length).toBeGreaterThan(0);
    });
    it('guessing tokens is limited per client address', async () => {
      for (let i = 0; i < 3; i++) expect((await send(limited, 'GET', '/budgets', { token: `guess-${i}-aaaaaaaa` })).status).toBe(401);
      const r = await send(limited, 'GET', '/budgets', { token: 'guess-4-aaaaaaaa' });
      assertError(r, 429, 'rate_limited');
      // probes stay unlimited
      expect((await send(limited, 'GET', '/health', { token: null })).status).toBe(200);
    });
  });

  describe('cache: ids that do not exist leave nothing in Redis', () => {
    it('an unknown post (404) and an unknown persona breakdown leave no key', async () => {
      const ghost = `${env.id}-ghost-${Date.now()}`;
      assertError(await send(api, 'GET', `/costs/post/${ghost}`), 404, 'not_found');
      assertError(await send(api, 'GET', `/costs/post/${ghost}/summary`), 404, 'not_found');
      expect((await send(api, 'GET', `/costs/breakdown?start_date=2025-01-01&end_date=2025-01-02&persona_id=${ghost}`)).status).toBe(200);
      await new Promise((r) => setTimeout(r, 100)); // the clean-up is sent after the response
      expect(await redis.keys(`test:${env.id}:*${ghost}*`)).toEqual([]);
    });
  });

  describe('audit: operator actions are appended with who, what, before and after', () => {
    it('budget create, replace and delete, then GET /audit pages them newest first', async () => {
      const p = `${env.id}-audited`;
      expect((await call(api, 'PUT', `/budgets/${p}/daily`, { token: OPERATOR_TOKEN, body: { limit_usd: '10' } })).status).toBe(201);
      expect((await call(api, 'PUT', `/budgets/${p}/daily`, { token: OPERATOR_TOKEN, body: { limit_usd: '20' } })).status).toBe(200);
      expect((await call(api, 'DELETE', `/budgets/${p}/daily`, { token: OPERATOR_TOKEN })).status).toBe(200);
      assertError(await send(api, 'DELETE', `/budgets/${p}/daily`, { token: OPERATOR_TOKEN }), 404, 'not_found');
      const page1 = await call(api, 'GET', `/audit?persona_id=${p}&limit=2`, { token: OPERATOR_TOKEN });
      expect(page1.status).toBe(200);
      expect(page1.body.entries.map((e: { action: string }) => e.action)).toEqual(['budget.delete', 'budget.replace']);
      expect(page1.body.entries[1]).toMatchObject({ actor: 'test-operator', token_id: expect.stringMatching(/^[0-9a-f]{12}$/), before: { limit_usd: '10.000000000' }, after: { limit_usd: '20.000000000' } });
      expect(JSON.stringify(page1.body)).not.toContain(OPERATOR_TOKEN);
      const page2 = await call(api, 'GET', `/audit?persona_id=${p}&limit=2&cursor=${page1.body.page.next_cursor}`, { token: OPERATOR_TOKEN });
      expect(page2.body.entries.map((e: { action: string }) => e.action)).toEqual(['budget.create']);
      expect(page2.body.page.next_cursor).toBeNull();
      // append-only, whoever connects
      await expect(env.pool.query('UPDATE api_audit_log SET actor = $1 WHERE persona_id = $2', ['someone', p])).rejects.toThrow(/append-only/);
    });
    it('resume and override are audited with the control before and after', async () => {
      const p = `${env.id}-ops`;
      expect((await call(api, 'POST', `/controls/${p}/override`, { token: OPERATOR_TOKEN, body: { level: 'pause', reason: 'suite' } })).status).toBe(200);
      expect((await call(api, 'POST', `/controls/${p}/resume`, { token: OPERATOR_TOKEN, body: { reason: 'suite' } })).status).toBe(200);
      const r = await call(api, 'GET', `/audit?persona_id=${p}`, { token: OPERATOR_TOKEN });
      expect(r.body.entries).toMatchObject([
        { action: 'control.resume', before: { level: 'pause' }, after: { level: 'normal' } },
        { action: 'control.override', before: null, after: { level: 'pause', manual: true } },
      ]);
    });
  });
});

export type { Res };
