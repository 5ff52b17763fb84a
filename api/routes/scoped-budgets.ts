import type { FastifyInstance } from 'fastify';
import { BUDGET_SCOPE_KINDS } from '../../src/contracts/anomaly';
import { CONTROL_CHANNEL, PERSONA_TEAM_KEY_PREFIX } from '../../src/contracts/controls';
import { parseDecimal } from '../../src/money';
import type { ApiContext } from '../context';
import { actorOf, errorResponses } from '../context';
import { badRequest, notFound } from '../../src/http/http-errors';
import { assignTeam, deleteScopedBudget, listScopedBudgets, listTeams, putScopedBudget, ThresholdInput, unassignTeam } from '../queries/scoped-budgets';
import { parseLimitUsd } from '../validation';

const PERIOD = { type: 'string', enum: ['daily', 'monthly'] } as const;
const KIND = { type: 'string', enum: [...BUDGET_SCOPE_KINDS] } as const;
const ID = { type: 'string', minLength: 1, maxLength: 256 } as const;
const SEVERITIES = ['low', 'medium', 'high', 'critical'];
const CONTROLS = ['throttle', 'switch_model', 'pause', 'page'];

/** A scope value that fits its kind: '' for global, key=value for a tag, an id otherwise. */
export function parseScopeValue(kind: string, value: string | undefined): string {
  const v = value ?? '';
  if (kind === 'global') {
    if (v !== '') throw badRequest('invalid_scope', 'a global budget has no scope_value (leave it out or send "")');
    return v;
  }
  if (v === '' || v.length > 256) throw badRequest('invalid_scope', `scope_value must be 1–256 characters for a ${kind} budget`);
  if (kind === 'tag' && !(v.indexOf('=') > 0)) throw badRequest('invalid_scope', `a tag budget's scope_value is key=value, e.g. "campaign=spring"; got ${JSON.stringify(v)}`);
  return v;
}

/** 1–20 thresholds with distinct percents in (0, 1000], each with a severity and optionally a breaker control. */
export function parseThresholds(raw: unknown): ThresholdInput[] {
  if (!Array.isArray(raw) || raw.length < 1 || raw.length > 20) throw badRequest('invalid_thresholds', 'thresholds must be a list of 1–20 {percent, severity, control?} entries');
  const seen = new Set<string>();
  return raw.map((t, i) => {
    const e = t as Record<string, unknown>;
    if (typeof e !== 'object' || e === null) throw badRequest('invalid_thresholds', `thresholds[${i}] must be an object`);
    const percent = typeof e.percent === 'number' ? String(e.percent) : e.percent;
    if (typeof percent !== 'string' || !/^\d{1,4}(\.\d{1,4})?$/.test(percent) || Number(percent) <= 0 || Number(percent) > 1000) {
      throw badRequest('invalid_thresholds', `thresholds[${i}].percent must be a decimal in (0, 1000] such as "90", got ${JSON.stringify(e.percent)}`);
    }
    const canonical = String(Number(parseDecimal(percent).units) / 10 ** parseDecimal(percent).scale);
    if (seen.has(canonical)) throw badRequest('invalid_thresholds', `thresholds[${i}].percent ${percent} is listed twice`);
    seen.add(canonical);
    if (!SEVERITIES.includes(e.severity as string)) throw badRequest('invalid_thresholds', `thresholds[${i}].severity must be one of ${SEVERITIES.join(', ')}`);
    if (e.control !== undefined && e.control !== null && !CONTROLS.includes(e.control as string)) {
      throw badRequest('invalid_thresholds', `thresholds[${i}].control must be one of ${CONTROLS.join(', ')} (or null: notify only)`);
    }
    for (const k of Object.keys(e)) if (!['percent', 'severity', 'control'].includes(k)) throw badRequest('invalid_thresholds', `thresholds[${i}] has an unknown field ${JSON.stringify(k)}`);
    return { percent, severity: e.severity as ThresholdInput['severity'], control: (e.control as ThresholdInput['control']) ?? null };
  });
}

export function scopedBudgetRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: { scope_kind?: string; scope_value?: string; period?: string } }>(
    '/scoped-budgets',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Budgets on scopes with spend, burn-rate forecast (90 % band) and projected exhaustion in the current UTC period',
        tags: ['budgets'],
        querystring: { type: 'object', additionalProperties: false, properties: { scope_kind: KIND, scope_value: { type: 'string', maxLength: 256 }, period: PERIOD } },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const budgets = await listScopedBudgets(ctx.pool, { kind: req.query.scope_kind, value: req.query.scope_value, period: req.query.period });
      return { count: budgets.length, budgets };
    },
  );

  app.put<{ Params: { scope_kind: string; period: string }; Body: { scope_value?: string; limit_usd: unknown; thresholds: unknown } }>(
    '/scoped-budgets/:scope_kind/:period',
    {
      config: { scope: 'operator' },
      schema: {
        summary: 'Create or replace a budget on a scope: limit_usd (exact decimal string) and thresholds [{percent, severity, control?}]',
        tags: ['budgets'],
        params: { type: 'object', required: ['scope_kind', 'period'], properties: { scope_kind: KIND, period: PERIOD } },
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        body: {
          type: 'object', additionalProperties: false, required: ['limit_usd', 'thresholds'],
          properties: { scope_value: { type: 'string', maxLength: 256 }, limit_usd: { type: 'string' }, thresholds: { type: 'array' } },
        },
        response: { 200: { type: 'object', additionalProperties: true }, 201: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const value = parseScopeValue(req.params.scope_kind, req.body.scope_value);
      const limit = parseLimitUsd(req.body.limit_usd);
      const thresholds = parseThresholds(req.body.thresholds);
      const { created, budget } = await putScopedBudget(ctx.pool, req.params.scope_kind, value, req.params.period, limit, thresholds, actorOf(req));
      return reply.code(created ? 201 : 200).send({ budget });
    },
  );

  app.delete<{ Params: { scope_kind: string; period: string }; Querystring: { scope_value?: string } }>(
    '/scoped-budgets/:scope_kind/:period',
    {
      config: { scope: 'operator' },
      schema: {
        summary: 'Delete a budget on a scope (audited with what it was)',
        tags: ['budgets'],
        params: { type: 'object', required: ['scope_kind', 'period'], properties: { scope_kind: KIND, period: PERIOD } },
        querystring: { type: 'object', additionalProperties: false, properties: { scope_value: { type: 'string', maxLength: 256 } } },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const { scope_kind: kind, period } = req.params;
      const value = parseScopeValue(kind, req.query.scope_value);
      if (!(await deleteScopedBudget(ctx.pool, kind, value, period, actorOf(req)))) throw notFound(`no ${period} budget on ${kind} ${JSON.stringify(value)}`);
      return { deleted: { scope_kind: kind, scope_value: value, period } };
    },
  );

  app.get<{ Querystring: { team?: string } }>(
    '/teams',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Persona → team mapping (team budgets cover every persona of the team)',
        tags: ['budgets'],
        querystring: { type: 'object', additionalProperties: false, properties: { team: ID } },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const members = await listTeams(ctx.pool, req.query.team);
      return { count: members.length, members };
    },
  );

  /** The guard reads a persona's team from Redis; a change is announced so cached controls are re-read. */
  const mirrorTeam = async (personaId: string, team: string | null) => {
    if (!ctx.redis) return;
    try {
      if (team === null) await ctx.redis.del(PERSONA_TEAM_KEY_PREFIX + personaId);
      else await ctx.redis.set(PERSONA_TEAM_KEY_PREFIX + personaId, team);
      await ctx.redis.publish(CONTROL_CHANNEL, personaId);
    } catch (err) {
      app.log.warn({ err, personaId }, 'team mapping saved in Postgres but not mirrored to Redis; the SDK guard sees it after the next change');
    }
  };

  app.put<{ Params: { persona_id: string }; Body: { team: string } }>(
    '/teams/:persona_id',
    {
      config: { scope: 'operator' },
      schema: {
        summary: "Put a persona in a team (replacing its team, if any)",
        tags: ['budgets'],
        params: { type: 'object', required: ['persona_id'], properties: { persona_id: ID } },
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        body: { type: 'object', additionalProperties: false, required: ['team'], properties: { team: ID } },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const { before } = await assignTeam(ctx.pool, req.params.persona_id, req.body.team, actorOf(req));
      await mirrorTeam(req.params.persona_id, req.body.team);
      return { persona_id: req.params.persona_id, team: req.body.team, previous_team: before };
    },
  );

  app.delete<{ Params: { persona_id: string } }>(
    '/teams/:persona_id',
    {
      config: { scope: 'operator' },
      schema: {
        summary: 'Take a persona out of its team',
        tags: ['budgets'],
        params: { type: 'object', required: ['persona_id'], properties: { persona_id: ID } },
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (req) => {
      if (!(await unassignTeam(ctx.pool, req.params.persona_id, actorOf(req)))) throw notFound(`persona ${JSON.stringify(req.params.persona_id)} is in no team`);
      await mirrorTeam(req.params.persona_id, null);
      return { deleted: { persona_id: req.params.persona_id } };
    },
  );
}
