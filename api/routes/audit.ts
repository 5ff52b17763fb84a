import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context';
import { errorResponses } from '../context';
import { listAudit } from '../queries/audit';
import { decodeAuditCursor, encodeAuditCursor, parseInstant, parseLimit } from '../validation';

type Query = { persona_id?: string; action?: string; actor?: string; since?: string; limit?: string; cursor?: string };

export function auditRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: Query }>(
    '/audit',
    {
      config: { scope: 'operator' },
      schema: {
        summary: 'Operator actions (budget create/replace/delete, control resume/override, ledger re-pricing), newest first, paginated',
        tags: ['audit'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            persona_id: { type: 'string', minLength: 1, maxLength: 256 },
            action: { type: 'string', enum: ['budget.create', 'budget.replace', 'budget.delete', 'control.resume', 'control.override', 'ledger.reprice', 'scoped_budget.create', 'scoped_budget.replace', 'scoped_budget.delete', 'team.assign', 'team.unassign'] },
            actor: { type: 'string', minLength: 1, maxLength: 256, description: 'token name' },
            since: { type: 'string', description: 'ISO date or timestamp with zone' },
            limit: { type: 'string', description: '1–1000, default 100' },
            cursor: { type: 'string', description: 'page.next_cursor of the previous page' },
          },
        },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const q = req.query;
      const limit = parseLimit(q.limit, 100, 1000);
      const { entries, more } = await listAudit(ctx.pool, {
        personaId: q.persona_id,
        action: q.action,
        actor: q.actor,
        since: q.since === undefined ? undefined : parseInstant('since', q.since),
        beforeId: q.cursor === undefined ? undefined : decodeAuditCursor(q.cursor, ctx.config.cursors),
        limit,
      });
      const last = entries[entries.length - 1];
      return { count: entries.length, entries, page: { limit, next_cursor: more && last ? encodeAuditCursor(last.audit_id, ctx.config.cursors) : null } };
    },
  );
}
