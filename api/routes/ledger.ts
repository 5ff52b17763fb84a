import type { FastifyInstance } from 'fastify';
import { InvalidInputError } from '../../src/errors';
import { pricingCoverage } from '../../src/ledger/coverage';
import { FOCUS_VERSION } from '../../src/ledger/focus/columns';
import { focusCsvStream } from '../../src/ledger/focus/export';
import { reprice, repriceReport } from '../../src/ledger/reprice';
import { ledgerSettings } from '../../src/ledger/settings';
import { logger } from '../../src/logging';
import { loadPriceBook, PriceBook } from '../../src/pricing';
import type { ApiContext } from '../context';
import { actorOf, errorResponses } from '../context';
import { ApiError, badRequest, notFound } from '../../src/http/http-errors';
import { appendAudit } from '../queries/audit';
import { uniqueToken } from '../redis';
import { parseInstant } from '../validation';

const log = logger('api-ledger');
const STRINGS = { type: 'array', items: { type: 'string', minLength: 1, maxLength: 256 }, maxItems: 1000 } as const;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The price book this API re-prices with and checks coverage against (PRICING_TABLE_FILE/URL and overrides), loaded once. */
let book: Promise<PriceBook> | undefined;
const priceBook = () => {
  book ??= loadPriceBook();
  book.catch(() => (book = undefined));
  return book;
};

const asBadRequest = <T>(fn: () => Promise<T>): Promise<T> =>
  fn().catch((err) => {
    throw err instanceof InvalidInputError ? badRequest('invalid_input', err.message) : err;
  });

export function ledgerRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.post<{ Body: { start: string; end: string; persona_ids?: string[]; models?: string[]; target_version?: string; reason: string } }>(
    '/ledger/reprice',
    {
      config: { scope: 'operator' },
      schema: {
        summary: 'Re-price the LLM events of a range from their recorded usage under the loaded price version (adjustment rows; originals unchanged; idempotent; audited)',
        tags: ['ledger'],
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['start', 'end', 'reason'],
          properties: {
            start: { type: 'string', description: 'event time from (inclusive), ISO date or timestamp with zone' },
            end: { type: 'string', description: 'event time to (exclusive)' },
            persona_ids: STRINGS,
            models: STRINGS,
            target_version: { type: 'string', minLength: 1, maxLength: 256, description: 'must equal the loaded price version (GET /pricing/coverage shows it)' },
            reason: { type: 'string', minLength: 1, maxLength: 1000 },
          },
        },
        response: { 200: { description: 'the diff report: by model, persona, day and total, exact USD strings', type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403) },
      },
    },
    async (req) => {
      const b = req.body;
      const actor = actorOf(req);
      const report = await asBadRequest(async () => reprice(ctx.pool, await priceBook(), {
        start: parseInstant('start', b.start), end: parseInstant('end', b.end), personaIds: b.persona_ids, models: b.models,
        targetVersion: b.target_version, actor: actor.name, reason: b.reason,
      }, (db, r) => appendAudit(db, actor, {
        action: 'ledger.reprice', personaId: r.persona_ids?.join(',') ?? '*', target: `reprice:${r.run_id}`, before: null,
        after: { run_id: r.run_id, target_version: r.target_version, start: r.start, end: r.end, models: r.models, events_adjusted: r.events_adjusted, total: r.total, reason: r.reason },
      })));
      // Every cached breakdown and post summary may have changed: replace the epoch token (cache.ts).
      if (report.events_adjusted > 0 && ctx.redis) {
        await ctx.redis.set(ctx.cache.layout.epoch, uniqueToken()).catch((err: Error) => log.warn({ err: err.message }, 'cache epoch not replaced after re-pricing; cached reads may show list amounts until they expire'));
      }
      return report;
    },
  );

  app.get<{ Params: { run_id: string } }>(
    '/ledger/reprice/:run_id',
    {
      config: { scope: 'operator' },
      schema: {
        summary: "A re-pricing run's diff report",
        tags: ['ledger'],
        params: { type: 'object', required: ['run_id'], properties: { run_id: { type: 'string', minLength: 1, maxLength: 64 } } },
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (req) => {
      if (!UUID_RE.test(req.params.run_id)) throw badRequest('invalid_value', `run_id ${JSON.stringify(req.params.run_id)} is not a run id (a UUID)`);
      const report = await repriceReport(ctx.pool, req.params.run_id);
      if (!report) throw notFound(`no finished re-pricing run ${req.params.run_id}`);
      return report;
    },
  );

  app.get(
    '/pricing/coverage',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'The loaded price version, and the LLM models the ledger has seen that it does not price',
        tags: ['ledger'],
        querystring: { type: 'object', additionalProperties: false, properties: {} },
        response: { 200: { type: 'object', additionalProperties: true }, ...errorResponses(400, 401, 403) },
      },
    },
    async () => pricingCoverage(ctx.pool, await priceBook()),
  );

  app.get<{ Querystring: { start_date: string; end_date: string; persona_id?: string; by_post?: string } }>(
    '/exports/focus',
    {
      config: { scope: 'read' },
      schema: {
        summary: `FOCUS ${FOCUS_VERSION} cost and usage export (CSV, streamed): hourly rows per persona, service, SKU and charge category, re-pricing adjustments as Adjustment rows`,
        tags: ['ledger'],
        querystring: {
          type: 'object',
          additionalProperties: false,
          required: ['start_date', 'end_date'],
          properties: {
            start_date: { type: 'string', description: 'ISO date or timestamp with zone on a whole UTC hour (inclusive)' },
            end_date: { type: 'string', description: 'ISO date or timestamp with zone on a whole UTC hour (exclusive)' },
            persona_id: { type: 'string', minLength: 1, maxLength: 256 },
            by_post: { type: 'string', enum: ['true', 'false'], description: 'one row per post as well (post in Tags); default false' },
          },
        },
        response: { 200: { description: 'text/csv, header row first', type: 'string' }, ...errorResponses(400, 401, 403) },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const start = parseInstant('start_date', q.start_date);
      const end = parseInstant('end_date', q.end_date);
      const days = (end.getTime() - start.getTime()) / 86_400_000;
      if (days > 366) throw new ApiError(400, 'range_too_large', `the range is ${Math.ceil(days)} days; export at most 366 days at a time`);
      const s = ledgerSettings();
      const stream = await asBadRequest(() => focusCsvStream(ctx.pool, {
        start, end, personaId: q.persona_id, byPost: q.by_post === 'true',
        billingAccountId: s.billingAccountId, billingAccountName: s.billingAccountName, invoiceIssuerName: s.invoiceIssuerName, workMem: s.focusWorkMem,
      }));
      req.raw.on('close', () => { if (!stream.readableEnded) stream.destroy(); });
      const name = `focus-${FOCUS_VERSION}-${start.toISOString().slice(0, 13)}-${end.toISOString().slice(0, 13)}.csv`.replace(/:/g, '');
      return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${name}"`).header('x-focus-version', FOCUS_VERSION).send(stream);
    },
  );
}
