import Redis from 'ioredis';
import type { RunningApi } from '../../api';
import { setting } from '../../src/config';
import { PERSONA_TEAM_KEY_PREFIX } from '../../src/contracts/controls';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { call, get, OPERATOR_TOKEN, startTestApi } from './api-support';

describe('API: scoped budgets and teams (operator scope, audited)', () => {
  let env: TestEnv;
  let api: RunningApi;
  let redis: Redis;

  beforeAll(async () => {
    env = await createTestEnv('apiscoped');
    api = await startTestApi(env);
    redis = new Redis(setting('REDIS_URL', env.overrides));
    env.cleanup(() => redis.quit().then(() => undefined));
  });
  afterAll(() => env?.close());

  it('creates, replaces, lists with spend and forecast, and deletes a team budget; every change audited', async () => {
    const team = `${env.id}-growth`;
    const path = `/scoped-budgets/team/daily`;
    const body = { scope_value: team, limit_usd: '20', thresholds: [{ percent: '50', severity: 'low' }, { percent: '90', severity: 'high', control: 'throttle' }, { percent: '100', severity: 'critical', control: 'pause' }] };
    expect((await call(api, 'PUT', path, { body })).status).toBe(403); // a read token cannot
    const created = await call(api, 'PUT', path, { token: OPERATOR_TOKEN, body });
    expect(created.status).toBe(201);
    expect(created.body.budget).toMatchObject({ scope_kind: 'team', scope_value: team, limit_usd: '20.000000000', spent_usd: '0.000000000', forecast_usd: null });
    expect((await call(api, 'PUT', path, { token: OPERATOR_TOKEN, body: { ...body, limit_usd: '25' } })).status).toBe(200);
    // What the anomaly consumer reports shows up in GET /budgets.
    await env.pool.query(
      `INSERT INTO scoped_budget_status (scope_kind, scope_value, period, period_start, spent_usd, forecast_usd, forecast_low_usd, forecast_high_usd, exhaustion_at)
       VALUES ('team', $1, 'daily', date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', 12.5, 30, 27, 33, now() + interval '3 hours')`,
      [team],
    );
    const list = await get(api, `/budgets?period=daily`);
    const mine = list.body.scoped_budgets.find((b: { scope_value: string }) => b.scope_value === team);
    expect(mine).toMatchObject({ limit_usd: '25.000000000', spent_usd: '12.500000000', used_ratio: 0.5, forecast_usd: '30.000000000', forecast_band_usd: ['27.000000000', '33.000000000'] });
    expect(Date.parse(mine.projected_exhaustion_at)).toBeGreaterThan(Date.now());
    expect((await call(api, 'DELETE', `${path}?scope_value=${team}`, { token: OPERATOR_TOKEN })).status).toBe(200);
    expect((await call(api, 'DELETE', `${path}?scope_value=${team}`, { token: OPERATOR_TOKEN })).status).toBe(404);
    const audit = await env.pool.query('SELECT action, target, before, after FROM api_audit_log WHERE persona_id = $1 ORDER BY audit_id', [`scope:team:${team}`]);
    expect(audit.rows.map((r) => r.action)).toEqual(['scoped_budget.create', 'scoped_budget.replace', 'scoped_budget.delete']);
    expect(audit.rows[1].before.limit_usd).toBe('20.000000000');
    await env.pool.query('DELETE FROM scoped_budget_status WHERE scope_value = $1', [team]);
  });

  it('assigns and unassigns a persona to a team, mirrored into Redis for the guard, audited', async () => {
    const persona = `${env.id}-ann`;
    expect((await call(api, 'PUT', `/teams/${persona}`, { token: OPERATOR_TOKEN, body: { team: 'alpha' } })).body).toMatchObject({ team: 'alpha', previous_team: null });
    expect((await call(api, 'PUT', `/teams/${persona}`, { token: OPERATOR_TOKEN, body: { team: 'beta' } })).body).toMatchObject({ team: 'beta', previous_team: 'alpha' });
    expect(await redis.get(PERSONA_TEAM_KEY_PREFIX + persona)).toBe('beta');
    expect((await get(api, `/teams?team=beta`)).body.members.map((m: { persona_id: string }) => m.persona_id)).toContain(persona);
    expect((await call(api, 'DELETE', `/teams/${persona}`, { token: OPERATOR_TOKEN })).status).toBe(200);
    expect(await redis.get(PERSONA_TEAM_KEY_PREFIX + persona)).toBeNull();
    expect((await call(api, 'DELETE', `/teams/${persona}`, { token: OPERATOR_TOKEN })).status).toBe(404);
    const audit = await env.pool.query('SELECT action FROM api_audit_log WHERE persona_id = $1 ORDER BY audit_id', [persona]);
    expect(audit.rows.map((r) => r.action)).toEqual(['team.assign', 'team.assign', 'team.unassign']);
  });

  it.each([
    ['a global budget with a scope value', 'global', { scope_value: 'x', limit_usd: '1', thresholds: [{ percent: '90', severity: 'high' }] }, 'invalid_scope'],
    ['a tag that is not key=value', 'tag', { scope_value: 'spring', limit_usd: '1', thresholds: [{ percent: '90', severity: 'high' }] }, 'invalid_scope'],
    ['no thresholds', 'model', { scope_value: 'gpt-4o', limit_usd: '1', thresholds: [] }, 'invalid_thresholds'],
    ['a threshold listed twice', 'model', { scope_value: 'gpt-4o', limit_usd: '1', thresholds: [{ percent: '90', severity: 'high' }, { percent: '90.0', severity: 'low' }] }, 'invalid_thresholds'],
    ['an unknown control', 'model', { scope_value: 'gpt-4o', limit_usd: '1', thresholds: [{ percent: '90', severity: 'high', control: 'explode' }] }, 'invalid_thresholds'],
    ['a zero limit', 'model', { scope_value: 'gpt-4o', limit_usd: '0', thresholds: [{ percent: '90', severity: 'high' }] }, 'invalid_limit_usd'],
  ])('refuses %s with a 400 naming the problem', async (_what, kind, body, code) => {
    const res = await call(api, 'PUT', `/scoped-budgets/${kind}/daily`, { token: OPERATOR_TOKEN, body });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(code);
  });
});
