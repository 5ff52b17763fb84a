import { RunningApi } from '../../api';
import { CostTracker } from '../../producers';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { waitFor } from '../../testkit/wait-for';
import { call, daysAgo, get, OPERATOR_TOKEN, READ_TOKEN, startTestApi, today } from './api-support';

describe('query API on the real stack: every endpoint, validation and auth', () => {
  let env: TestEnv;
  let api: RunningApi;
  let post: string;
  let persona: string;
  let t0: number;
  let targetPost: string;
  const eventIds: string[] = [];

  beforeAll(async () => {
    env = await createTestEnv('apiendpoints');
    const tracker = new CostTracker({ overrides: env.overrides });
    env.cleanup(() => tracker.close());
    await startStorage(env);
    api = await startTestApi(env);
    post = `${env.id}-post`;
    persona = `${env.id}-persona`;
    targetPost = `${env.id}-target-post`;
    const targetPersona = `${env.id}-thrifty`;
    await env.pool.query('INSERT INTO persona_targets (persona_id, target_cost_per_post_usd) VALUES ($1, $2)', [targetPersona, '0.005']);
    t0 = Date.now() - 60_000;
    const a = await tracker.trackOpenAICost({ model: 'gpt-4o', inputTokens: 1000, outputTokens: 500, operation: 'hook_generation', correlationId: 'corr-1', requestId: 'req-1', personaId: persona, postId: post, eventTime: new Date(t0) });
    const b = await tracker.trackInfrastructureCost({ cpuCores: '0.5', memoryGb: '1', durationMs: 60_000, operation: 'render', personaId: persona, postId: post, eventTime: new Date(t0 + 1000) });
    const c = await tracker.trackVectorDbCost({ vectorOperation: 'query', units: 10, personaId: persona, postId: post, eventTime: new Date(t0 + 2000) });
    eventIds.push(a.eventId, b.eventId, c.eventId);
    await tracker.trackOpenAICost({ model: 'gpt-4o', inputTokens: 1000, outputTokens: 500, personaId: targetPersona, postId: targetPost });
    await waitFor(async () => (await env.pool.query('SELECT sum(event_count) = 4 AS done FROM post_costs WHERE post_id = ANY($1)', [[post, targetPost]])).rows[0].done, { what: 'seeded posts stored' });
  });
  afterAll(() => env.close());

  describe('GET /costs/post/:post_id', () => {
    it('returns exact totals by cost type, honest confidence and the audit trail', async () => {
      const r = await get(api, `/costs/post/${post}`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({
        post_id: post,
        persona_id: persona,
        total_cost: '0.007874042',
        cost_breakdown: { openai_api: '0.007500000', kubernetes: '0.000334042', vector_db: '0.000040000', other: '0.000000000' },
        event_count: 3,
        // 0.99 (all four factors) + 0.97 (operation, usage) + 0.96 (usage) → mean 0.97333 → 0.9733
        accuracy_score: 0.9733,
        accuracy_details: { total_events: 3, high_confidence_events: 2, unpriced_events: 0, factor_coverage: { correlation_id: 1, request_id: 1, operation_specified: 2, usage_specified: 3 } },
      });
      expect(r.body.audit_trail.map((e: { event_id: string }) => e.event_id)).toEqual(eventIds);
      expect(r.body.audit_trail[0]).toMatchObject({ cost_type: 'openai_api', cost_amount: '0.007500000', confidence: 0.99, metadata: { model: 'gpt-4o', operation: 'hook_generation', input_tokens: 1000, output_tokens: 500, correlation_id: 'corr-1' } });
      // numeric usage stays exact text, counts are numbers, timestamps are the stored event times
      expect(r.body.audit_trail[1]).toMatchObject({ cost_type: 'kubernetes', cost_amount: '0.000334042', timestamp: new Date(t0 + 1000).toISOString().replace('Z', '000Z'), metadata: { cpu_cores: '0.500000', memory_gb: '1.000000', duration_ms: 60_000, operation: 'render' } });
      expect(r.body.audit_trail[2]).toMatchObject({ cost_type: 'vector_db', cost_amount: '0.000040000', metadata: { vector_operation: 'query', vector_units: 10 } });
      expect(r.body.accuracy_details.confidence_factors[2]).toMatchObject({ factors: ['usage_specified'], confidence: 0.96 });
      expect(r.body.page).toEqual({ limit: 100, next_cursor: null });
    });

    it('pages the audit trail with limit and cursor', async () => {
      const first = await get(api, `/costs/post/${post}?limit=2`);
      expect(first.body.audit_trail).toHaveLength(2);
      expect(first.body.page.next_cursor).toEqual(expect.any(String));
      const second = await get(api, `/costs/post/${post}?limit=2&cursor=${first.body.page.next_cursor}`);
      expect(second.status).toBe(200);
      expect(second.body.audit_trail.map((e: { event_id: string }) => e.event_id)).toEqual([eventIds[2]]);
      expect(second.body.page.next_cursor).toBeNull();
      // totals and confidence always cover the whole post, not the page
      expect(second.body.accuracy_details.total_events).toBe(3);
    });

    it('answers 404 for a post with no costs', async () => {
      expect(await get(api, `/costs/post/${env.id}-nothing`)).toMatchObject({ status: 404, body: { error: 'not_found' } });
      expect(await get(api, `/costs/post/${env.id}-nothing/summary`)).toMatchObject({ status: 404, body: { error: 'not_found' } });
    });
  });

  describe('GET /costs/post/:post_id/summary', () => {
    it('rates against the default $0.02 target', async () => {
      const r = await get(api, `/costs/post/${post}/summary`);
      expect(r.body).toEqual({
        post_id: post, persona_id: persona, total_cost: '0.007874042', list_cost: '0.007874042', adjustment: '0.000000000', event_count: 3, primary_cost_type: 'openai_api',
        target_cost: '0.020000000', target_source: 'default', cost_to_target_ratio: 0.3937, cost_efficiency_rating: 'excellent',
      });
    });
    it("rates against the persona's own target when persona_targets has one", async () => {
      const r = await get(api, `/costs/post/${targetPost}/summary`);
      expect(r.body).toMatchObject({ total_cost: '0.007500000', target_cost: '0.005000000', target_source: 'persona_targets', cost_to_target_ratio: 1.5, cost_efficiency_rating: 'poor' });
    });
  });

  describe('GET /costs/breakdown', () => {
    it('slices a persona by day, cost type, model and persona from the daily rollup', async () => {
      const r = await get(api, `/costs/breakdown?start_date=${daysAgo(2)}&end_date=${today()}&persona_id=${persona}`);
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ start_date: daysAgo(2), end_date: today(), days: 3, persona_id: persona, total_cost: '0.007874042', event_count: 3 });
      expect(r.body.by_day).toEqual([
        { day: daysAgo(2), total_cost: '0.000000000', list_cost: '0.000000000', adjustment: '0.000000000', event_count: 0 },
        { day: daysAgo(1), total_cost: '0.000000000', list_cost: '0.000000000', adjustment: '0.000000000', event_count: 0 },
        { day: today(), total_cost: '0.007874042', list_cost: '0.007874042', adjustment: '0.000000000', event_count: 3 },
      ]);
      expect(r.body.by_cost_type).toEqual([
        { cost_type: 'openai_api', total_cost: '0.007500000', list_cost: '0.007500000', adjustment: '0.000000000', event_count: 1 },
        { cost_type: 'kubernetes', total_cost: '0.000334042', list_cost: '0.000334042', adjustment: '0.000000000', event_count: 1 },
        { cost_type: 'vector_db', total_cost: '0.000040000', list_cost: '0.000040000', adjustment: '0.000000000', event_count: 1 },
      ]);
      expect(r.body.by_model).toEqual([
        { model: 'gpt-4o', total_cost: '0.007500000', list_cost: '0.007500000', adjustment: '0.000000000', event_count: 1 },
        { model: null, total_cost: '0.000374042', list_cost: '0.000374042', adjustment: '0.000000000', event_count: 2 },
      ]);
      expect(r.body.by_persona).toEqual([{ persona_id: persona, total_cost: '0.007874042', list_cost: '0.007874042', adjustment: '0.000000000', event_count: 3 }]);
    });

    it('without a persona covers every persona', async () => {
      const r = await get(api, `/costs/breakdown?start_date=${today()}T00:00:00Z&end_date=${today()}T23:59:59Z`);
      expect(r.status).toBe(200);
      expect(r.body.persona_id).toBeNull();
      expect(r.body.by_persona).toEqual(expect.arrayContaining([{ persona_id: persona, total_cost: '0.007874042', list_cost: '0.007874042', adjustment: '0.000000000', event_count: 3 }, { persona_id: `${env.id}-thrifty`, total_cost: '0.007500000', list_cost: '0.007500000', adjustment: '0.000000000', event_count: 1 }]));
    });
  });

  describe('GET /anomalies', () => {
    const anomaly = (id: string, severity: string, status: string, type: string, detected: string) => [id, status, type, severity, `${env.id}-anomalous`, detected];
    beforeAll(async () => {
      for (const row of [
        anomaly(`${env.id}-a1`, 'critical', 'open', 'cost_spike', '2025-01-01T00:00:00Z'),
        anomaly(`${env.id}-a2`, 'medium', 'resolved', 'budget', '2025-01-02T00:00:00Z'),
        anomaly(`${env.id}-a3`, 'high', 'escalated', 'cost_spike', '2025-01-03T00:00:00Z'),
      ]) {
        await env.pool.query(
          `INSERT INTO cost_anomalies (anomaly_id, sequence, status, anomaly_type, severity, persona_id, window_start, window_end, observed, threshold, unit, first_detected_at, last_updated_at)
           VALUES ($1, 1, $2, $3, $4, $5, $6, $6, '0.5', '0.1', 'usd', $6, $6)`,
          row,
        );
      }
    });
    const ids = (r: { body: { anomalies: { anomaly_id: string }[] } }) => r.body.anomalies.map((a) => a.anomaly_id.slice(-2));
    it('filters by persona, severity, status, type, since and limit, newest first', async () => {
      const p = `persona_id=${env.id}-anomalous`;
      expect(ids(await get(api, `/anomalies?${p}`))).toEqual(['a3', 'a2', 'a1']);
      expect(ids(await get(api, `/anomalies?${p}&severity=critical`))).toEqual(['a1']);
      expect(ids(await get(api, `/anomalies?${p}&status=active`))).toEqual(['a3', 'a1']);
      expect(ids(await get(api, `/anomalies?${p}&status=resolved`))).toEqual(['a2']);
      expect(ids(await get(api, `/anomalies?${p}&type=cost_spike`))).toEqual(['a3', 'a1']);
      expect(ids(await get(api, `/anomalies?${p}&since=2025-01-02`))).toEqual(['a3', 'a2']);
      const limited = await get(api, `/anomalies?${p}&limit=1`);
      expect(limited.body).toMatchObject({ count: 1, anomalies: [{ anomaly_id: `${env.id}-a3`, observed: '0.5', severity: 'high' }] });
    });
  });

  describe('budgets', () => {
    it('writes an exact limit (201 then 200) and reads it back with spend so far', async () => {
      const path = `/budgets/${persona}/daily`;
      const created = await call(api, 'PUT', path, { token: OPERATOR_TOKEN, body: { limit_usd: '125.5' } });
      expect(created.status).toBe(201);
      expect(created.body.budget).toMatchObject({ persona_id: persona, period: 'daily', limit_usd: '125.500000000', spent_usd: '0.007874042', updated_by: 'test-operator' });
      const replaced = await call(api, 'PUT', path, { token: OPERATOR_TOKEN, body: { limit_usd: '0.000000001' } });
      expect(replaced.status).toBe(200);
      const list = await get(api, `/budgets?persona_id=${persona}`);
      expect(list.body).toMatchObject({ count: 1, budgets: [{ limit_usd: '0.000000001', period: 'daily', spent_usd: '0.007874042' }] });
      const stored = await env.pool.query('SELECT limit_usd FROM budgets WHERE persona_id = $1', [persona]);
      expect(stored.rows[0].limit_usd).toBe('0.000000001');
    });
  });

  describe('validation: every bad request is a 400 naming the problem', () => {
    const cases: [string, string, string, RegExp][] = [
      ['missing start_date', `/costs/breakdown?end_date=2025-08-01`, 'missing_parameter', /start_date/],
      ['malformed date', `/costs/breakdown?start_date=2025-8-1&end_date=2025-08-03`, 'invalid_date', /start_date="2025-8-1"/],
      ['impossible date', `/costs/breakdown?start_date=2025-02-30&end_date=2025-03-03`, 'invalid_date', /real calendar date/],
      ['timestamp without zone', `/costs/breakdown?start_date=2025-08-01T00:00:00&end_date=2025-08-03`, 'invalid_date', /with zone/],
      ['end before start', `/costs/breakdown?start_date=2025-08-03&end_date=2025-08-01`, 'invalid_range', /before start_date/],
      ['range too large', `/costs/breakdown?start_date=2024-01-01&end_date=2025-06-01`, 'range_too_large', /at most 366 days/],
      ['unknown parameter', `/costs/breakdown?start_date=2025-08-01&end_date=2025-08-03&persona=x`, 'unknown_parameter', /"persona"/],
      ['repeated parameter', `/costs/breakdown?start_date=2025-08-01&end_date=2025-08-03&persona_id=a&persona_id=b`, 'invalid_value', /persona_id/],
      ['bad limit', `/costs/post/x?limit=0`, 'invalid_limit', /limit="0"/],
      ['limit too large', `/costs/post/x?limit=5000`, 'invalid_limit', /1 to 1000/],
      ['bad cursor', `/costs/post/x?cursor=abc`, 'invalid_cursor', /next_cursor/],
      ['unknown post parameter', `/costs/post/x?verbose=1`, 'unknown_parameter', /"verbose"/],
      ['unknown summary parameter', `/costs/post/x/summary?x=1`, 'unknown_parameter', /"x"/],
      ['bad severity', `/anomalies?severity=urgent`, 'invalid_value', /one of low, medium, high, critical/],
      ['bad status', `/anomalies?status=closed`, 'invalid_value', /status/],
      ['bad since', `/anomalies?since=last-week`, 'invalid_date', /since/],
      ['bad anomaly limit', `/anomalies?limit=abc`, 'invalid_limit', /limit/],
      ['unknown anomaly parameter', `/anomalies?persona=x`, 'unknown_parameter', /"persona"/],
      ['bad budget period filter', `/budgets?period=weekly`, 'invalid_value', /daily, monthly/],
    ];
    it.each(cases)('%s', async (_name, path, code, message) => {
      const r = await get(api, path);
      expect(r.status).toBe(400);
      expect(r.body.error).toBe(code);
      expect(r.body.message).toMatch(message);
    });

    const budgetCases: [string, string, unknown, string, RegExp][] = [
      ['bad period', '/budgets/p/weekly', { limit_usd: '1' }, 'invalid_value', /period/],
      ['number instead of string', '/budgets/p/daily', { limit_usd: 12.5 }, 'invalid_value', /limit_usd/],
      ['too many decimals', '/budgets/p/daily', { limit_usd: '1.0000000001' }, 'invalid_limit_usd', /at most 9 decimals/],
      ['zero', '/budgets/p/daily', { limit_usd: '0' }, 'invalid_limit_usd', /greater than zero/],
      ['unknown field', '/budgets/p/daily', { limit_usd: '1', note: 'x' }, 'unknown_field', /"note"/],
      ['missing field', '/budgets/p/daily', {}, 'missing_parameter', /limit_usd/],
    ];
    it.each(budgetCases)('PUT budget: %s', async (_name, path, body, code, message) => {
      const r = await call(api, 'PUT', path, { token: OPERATOR_TOKEN, body });
      expect(r.status).toBe(400);
      expect(r.body.error).toBe(code);
      expect(r.body.message).toMatch(message);
    });
  });

  describe('auth', () => {
    it('401 without a token or with an unknown one, with a Bearer challenge', async () => {
      const none = await get(api, `/costs/post/${post}`, null);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect((await get(api, `/costs/breakdown?start_date=${today()}&end_date=${today()}`, 'not-a-real-token')).status).toBe(401);
      expect((await get(api, '/anomalies', 'not-a-real-token')).status).toBe(401);
    });
    it('403 when a read token calls an operator endpoint; the operator token may read', async () => {
      const r = await call(api, 'PUT', `/budgets/${persona}/monthly`, { token: READ_TOKEN, body: { limit_usd: '1' } });
      expect(r).toMatchObject({ status: 403, body: { error: 'forbidden' } });
      expect((await call(api, 'POST', `/controls/${persona}/resume`, { token: READ_TOKEN })).status).toBe(403);
      expect((await get(api, `/costs/post/${post}`, OPERATOR_TOKEN)).status).toBe(200);
    });
    it('checks auth before validation, so strangers learn nothing', async () => {
      expect((await get(api, '/costs/breakdown?bogus=1', null)).status).toBe(401);
    });
    it('serves /health, /ready, /metrics and /openapi.json without a token', async () => {
      expect(await get(api, '/health', null)).toMatchObject({ status: 200, body: { status: 'ok' } });
      expect(await get(api, '/ready', null)).toMatchObject({ status: 200, body: { status: 'ready', degraded: false, checks: { postgres: 'ok', redis: 'ok' } } });
      // /metrics is on its own port (API_METRICS_PORT), not on the API port
      expect(await get(api, '/metrics', null)).toMatchObject({ status: 404, body: { error: 'not_found' } });
      const metricsRes = await fetch(`${api.metricsUrl}/metrics`);
      const metrics = { status: metricsRes.status, body: await metricsRes.text() };
      expect(metrics.status).toBe(200);
      expect(metrics.body).toMatch(/finops_api_requests_total\{route="\/costs\/post\/:post_id",method="GET",status_code="200"\}/);
      expect(metrics.body).not.toContain(post); // no unbounded labels
      const doc = await get(api, '/openapi.json', null);
      expect(doc.body.openapi).toMatch(/^3\./);
      expect(Object.keys(doc.body.paths)).toEqual(expect.arrayContaining(['/costs/post/{post_id}', '/costs/post/{post_id}/summary', '/costs/breakdown', '/anomalies', '/controls', '/controls/{persona_id}/resume', '/budgets', '/budgets/{persona_id}/{period}']));
      expect(doc.body.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
    });
    it('answers 503 for controls when the breaker admin is not deployed', async () => {
      expect(await get(api, '/controls')).toMatchObject({ status: 503, body: { error: 'controls_unavailable' } });
    });
  });
});
