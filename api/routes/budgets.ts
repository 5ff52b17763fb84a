import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context';
import { actorOf, errorResponses } from '../context';
import { notFound } from '../../src/http/http-errors';
import { deleteBudget, listBudgets, putBudget } from '../queries/budgets';
import { listScopedBudgets } from '../queries/scoped-budgets';
import { parseLimitUsd } from '../validation';

const PERIOD = { type: 'string', enum: ['daily', 'monthly'] } as const;

export function budgetRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: { persona_id?: string; period?: string } }>(
    '/budgets',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Budgets with spend so far in the current UTC period; scoped budgets (filtered by period) with spend, forecast and projected exhaustion',
        tags: ['budgets'],
        querystring: { type: 'object', additionalProperties: false, properties: { persona_id: { type: 'string', minLength: 1, maxLength: 256 }, period: PERIOD } },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const budgets = await listBudgets(ctx.pool, req.query.persona_id, req.query.period);
      const scoped = await listScopedBudgets(ctx.pool, req.query.persona_id === undefined ? { period: req.query.period } : { kind: 'persona', value: req.query.persona_id, period: req.query.period });
      return { count: budgets.length, budgets, scoped_budgets: scoped };
    },
  );

  app.put<{ Params: { persona_id: string; period: string }; Body: { limit_usd: unknown } }>(
    '/budgets/:persona_id/:period',
    {
      config: { scope: 'operator' },
      schema: {
        summary: 'Create or replace a budget; limit_usd is an exact decimal string',
        tags: ['budgets'],
        params: { type: 'object', required: ['persona_id', 'period'], properties: { persona_id: { type: 'string', minLength: 1, maxLength: 256 }, period: PERIOD } },
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        body: { type: 'object', additionalProperties: false, required: ['limit_usd'], properties: { limit_usd: { type: 'string', description: 'e.g. "125.50"; at most 9 decimals' } } },
        response: { 200: { type: 'object', additionalProperties: true }, 201: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const limit = parseLimitUsd(req.body.limit_usd);
      const { created, budget } = await putBudget(ctx.pool, req.params.persona_id, req.params.period, limit, actorOf(req));
      return reply.code(created ? 201 : 200).send({ budget });
    },
  );

  app.delete<{ Params: { persona_id: string; period: string } }>(
    '/budgets/:persona_id/:period',
    {
      config: { scope: 'operator' },
      schema: {
        summary: 'Delete a budget (audited with the limit it had)',
        tags: ['budgets'],
        params: { type: 'object', required: ['persona_id', 'period'], properties: { persona_id: { type: 'string', minLength: 1, maxLength: 256 }, period: PERIOD } },
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (req) => {
      const { persona_id: persona, period } = req.params;
      if (!(await deleteBudget(ctx.pool, persona, period, actorOf(req)))) throw notFound(`no ${period} budget for persona ${JSON.stringify(persona)}`);
      return { deleted: { persona_id: persona, period } };
    },
  );
}
