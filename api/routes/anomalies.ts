import type { FastifyInstance } from 'fastify';
import { SEVERITIES, Severity } from '../../src/contracts/anomaly';
import type { ApiContext } from '../context';
import { errorResponses } from '../context';
import { listAnomalies } from '../queries/anomalies';
import { parseInstant, parseLimit } from '../validation';

type Query = { persona_id?: string; type?: string; severity?: Severity; status?: string; since?: string; limit?: string };

export function anomalyRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: Query }>(
    '/anomalies',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Anomalies as last reported, newest first (not cached: operators need them live)',
        tags: ['anomalies'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            persona_id: { type: 'string', minLength: 1, maxLength: 256 },
            type: { type: 'string', minLength: 1, maxLength: 64, description: 'anomaly type, e.g. cost_spike' },
            severity: { type: 'string', enum: [...SEVERITIES] },
            status: { type: 'string', enum: ['open', 'escalated', 'resolved', 'active'], description: 'active = open or escalated' },
            since: { type: 'string', description: 'ISO date or timestamp with zone; anomalies updated at or after it' },
            limit: { type: 'string', description: '1–1000, default 100' },
          },
        },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const q = req.query;
      const anomalies = await listAnomalies(ctx.pool, {
        personaId: q.persona_id,
        type: q.type,
        severity: q.severity,
        status: q.status,
        since: q.since === undefined ? undefined : parseInstant('since', q.since),
        limit: parseLimit(q.limit, 100, 1000),
      });
      return { count: anomalies.length, anomalies };
    },
  );
}
