import { randomInt, randomUUID } from 'node:crypto';
import net from 'node:net';
import { startIngest, RunningIngest } from '../../ingest';
import { formatUsd, usdToNano } from '../../src/money';
import { priceBookFromConfig } from '../../src/pricing';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { waitFor } from '../../testkit/wait-for';

const TOKEN = 'ingest-token-for-tests-0001';
const READ_TOKEN = 'read-token-for-tests-00001';
const EVENTS = 10_000;
const BATCH = 1000;

async function post(ingest: RunningIngest, body: unknown, opts: { type?: string; token?: string | null; raw?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': opts.type ?? 'application/json' };
  if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? TOKEN}`;
  const res = await fetch(`${ingest.url}/events`, { method: 'POST', headers, body: opts.raw ?? JSON.stringify(body) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, body: json };
}

describe('HTTP ingest: POST /events', () => {
  let env: TestEnv;
  let ingest: RunningIngest;

  /** Messages on the cost-event topic so far (sum of the partitions' high watermarks). */
  async function published(): Promise<number> {
    const admin = env.kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(env.overrides.TOPIC_COST_EVENTS as string);
      return offsets.reduce((n, p) => n + Number(p.high), 0);
    } finally {
      await admin.disconnect();
    }
  }

  const stored = async (like: string) => (await env.pool.query('SELECT count(*)::int AS n, coalesce(sum(amount_usd), 0)::text AS usd FROM cost_events WHERE persona_id LIKE $1', [like])).rows[0];

  beforeAll(async () => {
    env = await createTestEnv('httpingest');
    ingest = await startIngest({ ...env.overrides, INGEST_PORT: 0, INGEST_HOST: '127.0.0.1', API_INGEST_TOKENS: TOKEN, API_READ_TOKENS: READ_TOKEN, INGEST_REDIS_PREFIX: `test:${env.id}:` });
    env.cleanup(() => ingest.close());
    await startStorage(env);
  });
  afterAll(() => env.close());

  it(`stores ${EVENTS} events posted in batches of ${BATCH} exactly: counts equal, and sums equal the price book's prices plus the given amounts`, async () => {
    const like = `${env.id}-p-%`;
    const prices = priceBookFromConfig(env.overrides);
    let given = 0n;
    let expected = 0n;
    const requests: Promise<{ status: number; body: any }>[] = [];
    for (let b = 0; b < EVENTS / BATCH; b++) {
      const events = Array.from({ length: BATCH }, (_, j) => {
        const i = b * BATCH + j;
        const common = { persona_id: `${env.id}-p-${i % 37}`, post_id: `${env.id}-post-${i % 500}`, operation: 'http' };
        if (i % 4 === 0) {
          const amount = `0.${String(randomInt(1, 1e9)).padStart(9, '0')}`;
          given += usdToNano(amount);
          return { ...common, cost_type: 'other', amount };
        }
        if (i % 4 === 1) {
          const u = { model: 'gpt-4o', input_tokens: randomInt(0, 20_000), output_tokens: randomInt(0, 4000), cached_input_tokens: randomInt(0, 50) };
          expected += prices.llm('openai', u.model, u.input_tokens, u.output_tokens, u.cached_input_tokens).nanoUsd;
          return { ...common, cost_type: 'openai_api', llm_usage: u };
        }
        if (i % 4 === 2) {
          const cores = randomInt(0, 8_000);
          const u = { cpu_cores: `${Math.floor(cores / 1000)}.${String(cores % 1000).padStart(3, '0')}`, memory_gb: '1.5', duration_ms: randomInt(1, 600_000) };
          expected += prices.compute(BigInt(cores) * 1000n, 1_500_000n, u.duration_ms).nanoUsd;
          return { ...common, cost_type: 'kubernetes', compute_usage: u };
        }
        const units = randomInt(1, 5000);
        expected += prices.vectorDb('query', units).nanoUsd;
        return { ...common, cost_type: 'vector_db', vector_db_usage: { operation: 'query', units }, event_time: new Date().toISOString() };
      });
      requests.push(post(ingest, { events }));
    }
    const answers = await Promise.all(requests);
    for (const a of answers) {
      expect(a.status).toBe(202);
      expect(a.body.event_ids).toHaveLength(BATCH);
      expect(a.body.generated_event_ids).toHaveLength(BATCH);
    }
    await waitFor(async () => (await stored(like)).n === EVENTS, { timeoutMs: 60_000, intervalMs: 250, what: `${EVENTS} stored events` });
    const ids = answers.flatMap((a) => a.body.event_ids as string[]);
    expect(new Set(ids).size).toBe(EVENTS);
    const { rows } = await env.pool.query(
      `SELECT count(*)::int AS n, sum(amount_usd) FILTER (WHERE cost_type = 'other')::text AS given, sum(amount_usd)::text AS total,
              (SELECT sum(total_usd)::text FROM post_costs WHERE persona_id LIKE $2) AS posts
         FROM cost_events WHERE event_id = ANY($1::text[])`,
      [ids, like],
    );
    expect(rows[0].n).toBe(EVENTS);
    expect(given).toBeGreaterThan(0n);
    expect(rows[0].given).toBe(formatUsd(given));
    expect(rows[0].total).toBe(formatUsd(given + expected));
    expect(rows[0].posts).toBe(formatUsd(given + expected));
    expect((await stored(like)).usd).toBe(formatUsd(given + expected));
  });

  it('stores a batch posted twice (a client retry with the same ids) once', async () => {
    const persona = `${env.id}-twice`;
    const events = Array.from({ length: 200 }, (_, i) => ({ event_id: randomUUID(), persona_id: persona, post_id: `${persona}-post`, cost_type: 'other', amount: `0.00000${1000 + i}` }));
    const expected = events.reduce((s, e) => s + usdToNano(e.amount), 0n);
    const first = await post(ingest, events);
    expect(first.status).toBe(202);
    expect(first.body.event_ids).toEqual(events.map((e) => e.event_id));
    expect(first.body.generated_event_ids).toEqual([]);
    const second = await post(ingest, events);
    expect(second.status).toBe(202);
    // A marker posted after the repeat proves the repeat was consumed before we look.
    const marker = await post(ingest, [{ persona_id: persona, post_id: `${persona}-marker`, cost_type: 'other', amount: '1' }]);
    await waitFor(async () => (await env.pool.query('SELECT 1 FROM cost_events WHERE event_id = $1', [marker.body.event_ids[0]])).rowCount === 1, { what: 'marker stored' });
    const { rows } = await env.pool.query(
      'SELECT count(*)::int AS n, sum(amount_usd)::text AS usd, (SELECT total_usd::text FROM post_costs WHERE post_id = $1) AS rollup FROM cost_events WHERE post_id = $1',
      [`${persona}-post`],
    );
    expect(rows[0]).toEqual({ n: 200, usd: formatUsd(expected), rollup: formatUsd(expected) });
  });

  it('takes CloudEvents in structured mode, one and a batch: the CloudEvent id is the event id', async () => {
    const persona = `${env.id}-ce`;
    const ce = (id: string, units: number) => ({ specversion: '1.0', id, source: 'urn:test', type: 'finops.cost-event.v1', time: new Date().toISOString(), datacontenttype: 'application/json', data: { persona_id: persona, cost_type: 'vector_db', vector_db_usage: { operation: 'query', units } } });
    const one = await post(ingest, ce('ce-one-' + env.id, 250), { type: 'application/cloudevents+json' });
    expect(one).toEqual({ status: 202, body: { event_ids: ['ce-one-' + env.id], generated_event_ids: [] } });
    const batch = await post(ingest, [ce('ce-a-' + env.id, 1000), ce('ce-b-' + env.id, 2000)], { type: 'application/cloudevents-batch+json; charset=utf-8' });
    expect(batch.status).toBe(202);
    await waitFor(async () => (await stored(persona)).n === 3, { what: 'three CloudEvents stored' });
    // 3,250 query units at $0.000004 (PRICING_VECTOR_DB_USD_PER_UNIT).
    expect((await stored(persona)).usd).toBe('0.013000000');
  });

  it('refuses at least 15 kinds of bad request with a 4xx naming the field, and publishes nothing', async () => {
    const ok = { persona_id: `${env.id}-bad`, cost_type: 'other', amount: '0.01' };
    const ce = { specversion: '1.0', id: 'x-1', source: 'urn:test', type: 'finops.cost-event.v1', data: ok };
    const day = 86_400_000;
    const cases: [string, unknown, number, RegExp, string?][] = [
      ['persona missing', [{ cost_type: 'other', amount: '1' }], 400, /events\[0\]\.persona_id: persona_id is required/],
      ['unknown cost type', [{ ...ok, cost_type: 'gpu' }], 400, /events\[0\]\.cost_type: cost_type must be one of/],
      ['cost type missing', [{ persona_id: 'p', amount: '1' }], 400, /events\[0\]\.cost_type: cost_type is required/],
      ['unknown field', [{ ...ok, amonut: '1' }], 400, /events\[0\]\.amonut: unknown field "amonut"/],
      ['negative token count', [{ ...ok, cost_type: 'openai_api', amount: undefined, llm_usage: { model: 'gpt-4o', input_tokens: -1, output_tokens: 1 } }], 400, /events\[0\]\.llm_usage\.input_tokens: .*non-negative integer/],
      ['amount with 10 decimals', [{ ...ok, amount: '0.0000000001' }], 400, /events\[0\]\.amount: .*more than 9 decimal places/],
      ['negative amount', [{ ...ok, amount: '-1' }], 400, /events\[0\]\.amount: amount is negative/],
      ['amount not a number', [{ ...ok, amount: 'ten' }], 400, /events\[0\]\.amount: amount must be a decimal number/],
      ['time without a zone', [{ ...ok, event_time: '2026-01-01T00:00:00' }], 400, /events\[0\]\.event_time: event_time must be an RFC 3339 time/],
      ['time in the future', [{ ...ok, event_time: Date.now() + 3 * day }], 400, /events\[0\]\.event_time: .*in the future/],
      ['time too old', [{ ...ok, event_time: Date.now() - 500 * day }], 400, /events\[0\]\.event_time: .*older than/],
      ['another currency', [{ ...ok, currency: 'EUR' }], 400, /events\[0\]\.currency: currency "EUR" is not supported/],
      ['usage missing for an amount-less LLM event', [{ persona_id: 'p', cost_type: 'openai_api' }], 400, /events\[0\]\.llm_usage: llm_usage is required to price/],
      ['amount missing for cost type other', [{ persona_id: 'p', cost_type: 'other' }], 400, /events\[0\]\.amount: amount is required for cost_type "other"/],
      ['control character in an id', [{ ...ok, post_id: 'a\u0001b' }], 400, /events\[0\]\.post_id: post_id contains control characters/],
      ['an id over 255 characters', [{ ...ok, persona_id: 'x'.repeat(256) }], 400, /events\[0\]\.persona_id: persona_id is 256 characters/],
      ['metadata value not a string', [{ ...ok, metadata: { a: 1 } }], 400, /events\[0\]\.metadata: metadata entry "a" must be a string/],
      ['cpu cores with 7 decimals', [{ persona_id: 'p', cost_type: 'kubernetes', compute_usage: { cpu_cores: '0.0000001', memory_gb: '1', duration_ms: 1 } }], 400, /events\[0\]\.compute_usage\.cpu_cores: .*more than 6 decimal places/],
      ['price without amount', [{ persona_id: 'p', cost_type: 'vector_db', vector_db_usage: { operation: 'query', units: 1 }, price: { source: 's', version: 'v' } }], 400, /events\[0\]\.price: price is recorded by the price book/],
      ['the same id twice in a batch', [{ ...ok, event_id: 'dup' }, { ...ok, event_id: 'dup' }], 400, /events\[1\]\.event_id: the same id as events\[0\]/],
      ['a good event beside a bad one', [ok, ok, { ...ok, amount: '-2' }], 400, /1 of 3 events are invalid.*events\[2\]\.amount/],
      ['CloudEvent without specversion', [{ ...ce, specversion: undefined }], 400, /events\[0\]\.specversion: must be "1\.0"/, 'application/cloudevents-batch+json'],
      ['CloudEvent of another type', { ...ce, type: 'com.example.other' }, 400, /events\[0\]\.type: must be "finops\.cost-event\.v1"/, 'application/cloudevents+json'],
      ['CloudEvent without data', { ...ce, data: undefined }, 400, /events\[0\]\.data: must be the cost event/, 'application/cloudevents+json'],
      ['CloudEvent id and data.event_id differ', { ...ce, data: { ...ok, event_id: 'other' } }, 400, /events\[0\]\.data\.event_id: differs from the CloudEvent id/, 'application/cloudevents+json'],
      ['CloudEvent with a bad field in data', { ...ce, data: { ...ok, amount: '-1' } }, 400, /events\[0\]\.data\.amount: amount is negative/, 'application/cloudevents+json'],
      ['a body that is not a batch', { event: ok }, 400, /body must be a JSON array of cost events/],
      ['an empty batch', [], 400, /events: the batch is empty/],
      ['more events than INGEST_MAX_BATCH', Array.from({ length: 1001 }, () => ok), 413, /events: the batch has 1001 events; at most 1000 \(INGEST_MAX_BATCH\)/],
    ];
    const before = await published();
    for (const [what, body, status, message, type] of cases) {
      const r = await post(ingest, body, { type });
      expect({ what, status: r.status }).toEqual({ what, status });
      expect({ what, message: r.body.message }).toEqual({ what, message: expect.stringMatching(message) });
    }
    const bad = await post(ingest, [ok, { ...ok, amount: '-1' }, { ...ok, persona_id: '' }]);
    expect(bad.body.errors).toEqual([
      { index: 1, field: 'amount', reason: 'amount.negative', message: expect.any(String) },
      { index: 2, field: 'persona_id', reason: 'persona_id.missing', message: expect.any(String) },
    ]);
    expect(bad.body.error).toBe('invalid_event');
    // Framework-level refusals in the same error model.
    expect((await post(ingest, null, { raw: '[{"persona_id": ' })).body).toEqual({ error: 'invalid_json', message: expect.any(String) });
    expect(await post(ingest, null, { raw: 'x', type: 'text/plain' })).toEqual({ status: 415, body: { error: 'unsupported_media_type', message: expect.stringMatching(/application\/cloudevents-batch\+json/) } });
    expect(await post(ingest, [ok], { token: null })).toEqual({ status: 401, body: { error: 'unauthorized', message: expect.stringMatching(/Authorization/) } });
    expect(await post(ingest, [ok], { token: READ_TOKEN })).toEqual({ status: 403, body: { error: 'forbidden', message: expect.stringMatching(/"ingest" scope/) } });
    expect(await published()).toBe(before);
  });

  it('answers a malformed HTTP request in the error model, as the query API does (the same HTTP set-up)', async () => {
    const { port } = new URL(ingest.url);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1');
      let data = '';
      socket.on('data', (d) => (data += d.toString('latin1')));
      socket.on('error', reject);
      socket.on('close', () => resolve(data));
      socket.on('connect', () => socket.write('POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n'));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({ error: 'bad_request', message: 'malformed HTTP request' });
  });

  it('documents POST /events in its OpenAPI document', async () => {
    const doc = (await (await fetch(`${ingest.url}/openapi.json`)).json()) as any;
    expect(doc.openapi).toMatch(/^3\./);
    const op = doc.paths['/events'].post;
    expect(Object.keys(op.requestBody.content).sort()).toEqual(['application/cloudevents+json', 'application/cloudevents-batch+json', 'application/json']);
    expect(Object.keys(op.responses).sort()).toEqual(['202', '400', '401', '403', '413', '415', '429', '503']);
    expect(op.responses['202'].content['application/json'].schema.required).toEqual(['event_ids', 'generated_event_ids']);
  });
});
