import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context';
import { errorResponses } from '../context';
import { costBreakdown } from '../queries/breakdown';
import { parseDayRange } from '../validation';

export function breakdownRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get<{ Querystring: { start_date: string; end_date: string; persona_id?: string } }>(
    '/costs/breakdown',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Spend over whole UTC days by day, cost type, model and persona (from the daily rollup)',
        tags: ['costs'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['start_date', 'end_date'],
          properties: {
            start_date: { type: 'string', description: 'ISO date or timestamp with zone; the range starts on its UTC day' },
            end_date: { type: 'string', description: 'ISO date or timestamp with zone; the range ends on its UTC day (inclusive; a non-date T00:00:00Z ends the previous day)' },
            persona_id: { type: 'string', minLength: 1, maxLength: 256 },
          },
        },
        response: { 200: { description: 'breakdown; amounts are exact USD decimal strings', type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const range = parseDayRange(req.query.start_date, req.query.end_date, ctx.config.maxRangeDays);
      const persona = req.query.persona_id ?? null;
      const keys = ctx.cache.layout;
      // Any committed batch for the persona (or, unfiltered, any batch at all) replaces the version
      // token, so a cached breakdown — including today's — is never served after new events commit.
      const versionKey = persona === null ? keys.allVersion : keys.personaVersion(persona);
      const { body, outcome } = await ctx.cache.getOrLoad(keys.entry('breakdown', persona ?? '*', range.startDay, range.endDay), versionKey, async () => {
        const breakdown = await costBreakdown(ctx.pool, range, persona);
        const json = JSON.stringify(breakdown);
        // A range without spend (an unknown persona, a range before any data) is cheap to answer and
        // is not stored: otherwise every made-up persona id or range would leave keys in Redis.
        return breakdown.event_count > 0 ? json : { body: json, store: false as const };
      });
      return reply.type('application/json; charset=utf-8').header('x-cache', outcome).send(body);
    },
  );
}
