import type { RunningApi } from '../../api';
import { FocusCsvValidator } from '../../src/ledger/focus/validate';
import { nanoFromNumericText } from '../../src/money';
import { writeLedgerRows } from '../../testkit/ledger-rows';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { call, get, OPERATOR_TOKEN, startTestApi } from './api-support';

describe('ledger API: re-pricing, list and adjusted amounts, FOCUS export, price coverage', () => {
  let env: TestEnv;
  let api: RunningApi;
  const dayStart = new Date(Math.floor(Date.now() / 86_400_000) * 86_400_000 - 2 * 86_400_000);
  const day = dayStart.toISOString().slice(0, 10);
  let prefix: string;
  let persona: string;

  beforeAll(async () => {
    env = await createTestEnv('apiledger');
    prefix = env.id;
    persona = `${prefix}-persona-1`;
    await writeLedgerRows(env.pool, { prefix, count: 6000, start: dayStart, spanMs: 86_400_000, personas: 3, posts: 30 });
    api = await startTestApi(env);
  });
  afterAll(() => env.close());

  it('re-prices as an operator only, audits it, and the breakdown and post summary show list and adjusted amounts', async () => {
    const before = await get(api, `/costs/breakdown?start_date=${day}&end_date=${day}&persona_id=${persona}`);
    expect(before.status).toBe(200);
    expect(before.body.total_cost).toBe(before.body.list_cost);
    expect(before.body.adjustment).toBe('0.000000000');

    const body = { start: dayStart.toISOString(), end: new Date(dayStart.getTime() + 86_400_000).toISOString(), persona_ids: [persona], reason: 'bundled prices' };
    expect((await call(api, 'POST', '/ledger/reprice', { body })).status).toBe(403);
    const noReason = await call(api, 'POST', '/ledger/reprice', { token: OPERATOR_TOKEN, body: { ...body, reason: undefined } });
    expect(noReason.status).toBe(400);
    const wrongVersion = await call(api, 'POST', '/ledger/reprice', { token: OPERATOR_TOKEN, body: { ...body, target_version: 'v-nope' } });
    expect(wrongVersion).toMatchObject({ status: 400, body: { error: 'invalid_input', message: expect.stringMatching(/not the loaded one/) } });
    const badTime = await call(api, 'POST', '/ledger/reprice', { token: OPERATOR_TOKEN, body: { ...body, start: 'yesterday' } });
    expect(badTime).toMatchObject({ status: 400, body: { error: 'invalid_date' } });

    const run = await call(api, 'POST', '/ledger/reprice', { token: OPERATOR_TOKEN, body });
    expect(run.status).toBe(200);
    expect(run.body.events_adjusted).toBeGreaterThan(0);
    expect(run.body.by_persona).toEqual([expect.objectContaining({ persona_id: persona, delta_usd: run.body.total.delta_usd })]);

    const after = await get(api, `/costs/breakdown?start_date=${day}&end_date=${day}&persona_id=${persona}`);
    expect(after.body.list_cost).toBe(before.body.list_cost);
    expect(after.body.adjustment).toBe(run.body.total.delta_usd);
    expect(nanoFromNumericText(after.body.total_cost)).toBe(nanoFromNumericText(before.body.list_cost) + nanoFromNumericText(run.body.total.delta_usd));

    const post = await get(api, `/costs/post/${prefix}-post-1/summary`);
    expect(post.status).toBe(200);
    expect(nanoFromNumericText(post.body.total_cost)).toBe(nanoFromNumericText(post.body.list_cost) + nanoFromNumericText(post.body.adjustment));
    expect(post.body.adjustment).not.toBe('0.000000000');
    const detail = await get(api, `/costs/post/${prefix}-post-1?limit=500`);
    const adjusted = detail.body.audit_trail.filter((a: { cost_amount: string; adjusted_amount: string }) => a.adjusted_amount !== a.cost_amount);
    expect(adjusted.length).toBeGreaterThan(0);
    expect(detail.body.total_cost).toBe(post.body.total_cost);

    const audit = await get(api, `/audit?action=ledger.reprice&persona_id=${persona}`, OPERATOR_TOKEN);
    expect(audit.body.entries[0]).toMatchObject({ action: 'ledger.reprice', target: `reprice:${run.body.run_id}` });

    const report = await get(api, `/ledger/reprice/${run.body.run_id}`, OPERATOR_TOKEN);
    expect(report.body).toEqual(run.body);
    expect((await get(api, '/ledger/reprice/00000000-0000-0000-0000-000000000000', OPERATOR_TOKEN)).status).toBe(404);
    expect((await get(api, '/ledger/reprice/nope', OPERATOR_TOKEN)).status).toBe(400);

    const again = await call(api, 'POST', '/ledger/reprice', { token: OPERATOR_TOKEN, body });
    expect(again.body.events_adjusted).toBe(0);
  });

  it('streams the FOCUS export as CSV that validates and sums to the adjusted breakdown', async () => {
    const end = new Date(dayStart.getTime() + 86_400_000).toISOString();
    const res = await fetch(`${api.url}/exports/focus?start_date=${dayStart.toISOString()}&end_date=${end}&persona_id=${persona}`, { headers: { authorization: 'Bearer read-token-for-api-tests' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
    expect(res.headers.get('x-focus-version')).toBe('1.2');
    const v = new FocusCsvValidator();
    v.push(await res.text());
    const result = v.finish();
    expect(result.errors).toEqual([]);
    const breakdown = await get(api, `/costs/breakdown?start_date=${day}&end_date=${day}&persona_id=${persona}`);
    expect(result.billed_nano).toBe(nanoFromNumericText(breakdown.body.total_cost));
    const notHour = await get(api, `/exports/focus?start_date=${day}T00:30:00Z&end_date=${end}`);
    expect(notHour).toMatchObject({ status: 400, body: { error: 'invalid_input', message: expect.stringMatching(/whole UTC hour/) } });
    expect((await get(api, `/exports/focus?start_date=${day}`)).status).toBe(400);
    expect((await get(api, `/exports/focus?start_date=${day}&end_date=${end}`, null)).status).toBe(401);
  });

  it('reports a model the ledger has seen that the loaded price table does not price', async () => {
    await env.pool.query(`INSERT INTO persona_daily_costs (persona_id, day, cost_type, model, total_usd, event_count) VALUES ($1, $2, 'openai_api', $3, 0, 7)`, [persona, day, `${prefix}-retired-model`]);
    const res = await get(api, '/pricing/coverage');
    expect(res.status).toBe(200);
    expect(res.body.price_version).toMatch(/^\d+\.\d+\.\d+/);
    expect(res.body.unpriced).toContainEqual({ model: `${prefix}-retired-model`, last_day: day, events: 7 });
    expect(res.body.unpriced.map((u: { model: string }) => u.model)).not.toContain('gpt-4o');
    const metrics = await fetch(`${api.metricsUrl ?? api.url}/metrics`).then((r) => r.text()).catch(() => '');
    if (metrics) expect(metrics).toMatch(/finops_pricing_unpriced_seen_models [1-9]/);
  });
});
