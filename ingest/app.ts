import type { FastifyInstance } from 'fastify';
import { createHttpApp } from '../src/http/fastify-app';
import type Redis from 'ioredis';
import { CostEvent, CostEventDraft } from '../src/events';
import { DeliveryTimeoutError, InvalidInputError } from '../src/errors';
import { ERROR_SCHEMA } from '../src/http/error-codes';
import { sendApiError } from '../src/http/errors-handler';
import { ApiError } from '../src/http/http-errors';
import { ingestMetrics } from './metrics';
import { BatchError, CLOUDEVENT_BATCH_TYPE, CLOUDEVENT_TYPE, COST_EVENT_CE_TYPE, EventProblem, JSON_TYPE, parseBatch, problemOf } from './request-body';
import type { IngestSettings } from './settings';
import { COST_EVENT_JSON_SCHEMA, CLOUDEVENT_JSON_SCHEMA } from './openapi';

/** What the ingest app needs of the SDK's cost tracker: the same completion and the same producer. */
export interface CostPublisher {
  completeCostEvent(draft: CostEventDraft): CostEvent;
  /** Publishes a request's events; resolves, once every one is acknowledged or failed by its deadline, with the failures. */
  publishBatch(events: CostEvent[]): Promise<unknown[]>;
}

export interface IngestContext {
  settings: IngestSettings;
  publisher: CostPublisher;
  redis: Redis | null;
}

const PUBLIC_ROUTES = ['/health', '/openapi.json'];
const RETRY_AFTER_SECONDS = 5;

const PROBLEM_SCHEMA = {
  type: 'object',
  required: ['index', 'field', 'reason', 'message'],
  properties: {
    index: { type: 'integer', description: 'position of the event in the batch' },
    field: { type: 'string', description: 'the field as posted, e.g. llm_usage.input_tokens or data.persona_id' },
    reason: { type: 'string', description: 'machine-readable reason, e.g. llm_usage.input_tokens.invalid (the SDK\'s InvalidInputError reasons)' },
    message: { type: 'string' },
  },
} as const;

const errorResponse = (description: string, extra: Record<string, unknown> = {}) => ({
  description,
  ...ERROR_SCHEMA,
  properties: { ...ERROR_SCHEMA.properties, ...extra },
});

/** Builds the ingest app over its dependencies (no listening). */
export async function buildIngestApp(ctx: IngestContext): Promise<FastifyInstance> {
  const s = ctx.settings;
  const metrics = ingestMetrics();
  const { app, log } = await createHttpApp({
    component: 'ingest',
    limits: { bodyLimitBytes: s.bodyLimitBytes, requestTimeoutMs: s.requestTimeoutMs },
    retryAfterSeconds: RETRY_AFTER_SECONDS,
    mediaTypes: `${JSON_TYPE}, ${CLOUDEVENT_TYPE} or ${CLOUDEVENT_BATCH_TYPE}`,
    openApi: {
      title: 'FinOps HTTP ingest',
      description:
        'POST /events publishes a batch of cost events to Kafka as Avro, through the same validation, pricing and producer as the SDK. ' +
        'Bearer tokens carry the ingest scope. Errors are {"error": snake_case code, "message": text}; 429 and 503 carry Retry-After. See docs/ingest.md.',
    },
    tokens: s.tokens,
    rateLimit: {
      redis: ctx.redis, nameSpace: `${s.redisPrefix}rl:`, max: s.rateLimit.max, anonymousMax: s.rateLimit.anonymousMax,
      windowMs: s.rateLimit.windowMs, publicRoutes: PUBLIC_ROUTES, onLimited: (client) => metrics.rateLimited.inc({ client }),
    },
    onAuthFailure: (reason) => metrics.authFailures.inc({ reason }),
  });
  app.addContentTypeParser([CLOUDEVENT_TYPE, CLOUDEVENT_BATCH_TYPE], { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  app.addHook('onResponse', async (req, reply) => {
    if (req.routeOptions.url !== '/events') return;
    metrics.requests.inc({ status_code: String(reply.statusCode) });
    metrics.duration.observe(reply.elapsedTime / 1000);
  });

  app.get('/health', { schema: { hide: true } as Record<string, unknown> }, async () => ({ status: 'ok' }));
  app.get('/openapi.json', { schema: { hide: true } as Record<string, unknown> }, async () => app.swagger());

  app.post('/events', {
    config: { scope: 'ingest' },
    // The body is checked by the SDK's own code (costEventFromJson, completeCostEvent), which names
    // every bad event and field; the schema below documents it and is not compiled into a validator.
    validatorCompiler: () => () => true,
    schema: {
      summary: 'Publish a batch of cost events',
      description:
        `Up to INGEST_MAX_BATCH (default 1000) events. application/json: an array of cost events in the JSON form of schemas/cost-event.avsc, or {"events": [...]}. ` +
        `${CLOUDEVENT_TYPE}: one CloudEvent, ${CLOUDEVENT_BATCH_TYPE}: an array of them, in structured mode with type "${COST_EVENT_CE_TYPE}" and the cost event in data ` +
        '(the CloudEvent id is the event id, its time the event time). An event without amount is priced from its usage by the price book. ' +
        'Answered 202 only after Kafka acknowledged every event. A batch with any invalid event publishes nothing (400 naming each bad index and field). ' +
        'Idempotent by event id: an event without event_id gets a new UUID (listed in generated_event_ids); a retry must send the ids of the 202 (or of the 503).',
      body: {
        content: {
          [JSON_TYPE]: { schema: { oneOf: [{ type: 'array', items: COST_EVENT_JSON_SCHEMA }, { type: 'object', required: ['events'], properties: { events: { type: 'array', items: COST_EVENT_JSON_SCHEMA } } }] } },
          [CLOUDEVENT_TYPE]: { schema: CLOUDEVENT_JSON_SCHEMA },
          [CLOUDEVENT_BATCH_TYPE]: { schema: { type: 'array', items: CLOUDEVENT_JSON_SCHEMA } },
        },
      },
      response: {
        202: {
          description: 'every event was acknowledged by Kafka',
          type: 'object',
          required: ['event_ids', 'generated_event_ids'],
          properties: {
            event_ids: { type: 'array', items: { type: 'string' }, description: 'the id of each event, in the order posted' },
            generated_event_ids: { type: 'array', items: { type: 'integer' }, description: 'indexes of the events posted without event_id, whose ids were made here: a retry must send them' },
          },
        },
        400: errorResponse('invalid batch or events; nothing was published. `errors` names each bad event (index) and field', { errors: { type: 'array', items: PROBLEM_SCHEMA } }),
        401: errorResponse('no or unknown bearer token'),
        403: errorResponse('token lacks the ingest scope'),
        413: errorResponse('body over INGEST_BODY_LIMIT_BYTES, or more events than INGEST_MAX_BATCH'),
        415: errorResponse('media type other than application/json, application/cloudevents+json, application/cloudevents-batch+json'),
        429: errorResponse('rate limit exceeded; Retry-After says when to try again'),
        503: errorResponse('Kafka did not acknowledge every event in time; retry with the same event_ids (they may be stored)', { event_ids: { type: 'array', items: { type: 'string' } } }),
      },
    },
  }, async (req, reply) => {
    const mediaType = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const cloudEvents = mediaType !== JSON_TYPE;
    let items;
    try {
      items = parseBatch(mediaType, req.body, s.maxBatch);
    } catch (err) {
      if (err instanceof BatchError) return sendApiError(reply, new ApiError(err.statusCode, err.code, err.message));
      throw err;
    }
    const problems: EventProblem[] = [];
    const events: CostEvent[] = [];
    const generated: number[] = [];
    const seen = new Map<string, number>();
    for (const item of items) {
      if ('problem' in item) {
        problems.push(item.problem);
        continue;
      }
      try {
        if (item.draft.event_id === null || item.draft.event_id === undefined) generated.push(item.index);
        const event = ctx.publisher.completeCostEvent(item.draft);
        const first = seen.get(event.event_id);
        if (first !== undefined) {
          const field = cloudEvents ? 'id' : 'event_id';
          problems.push({ index: item.index, field, reason: `${field}.duplicate`, message: `events[${item.index}].${field}: the same id as events[${first}]; each event of a batch needs its own id` });
          continue;
        }
        seen.set(event.event_id, item.index);
        events.push(event);
      } catch (err) {
        if (!(err instanceof InvalidInputError)) throw err;
        problems.push(problemOf(item.index, err, cloudEvents ? 'data.' : ''));
      }
    }
    if (problems.length) {
      metrics.events.inc({ outcome: 'refused' }, items.length);
      const shown = problems.slice(0, 5).map((p) => p.message).join('; ');
      const more = problems.length > 5 ? `; and ${problems.length - 5} more (see errors)` : '';
      return reply.code(400).send({ error: 'invalid_event', message: `${problems.length} of ${items.length} events are invalid, so none was published: ${shown}${more}`, errors: problems });
    }
    const failed = await ctx.publisher.publishBatch(events);
    const eventIds = events.map((e) => e.event_id);
    if (failed.length) {
      metrics.events.inc({ outcome: 'unacknowledged' }, events.length);
      const timedOut = failed.some((f) => f instanceof DeliveryTimeoutError);
      log.warn({ events: events.length, failed: failed.length, err: (failed[0] as Error).message }, 'Kafka did not acknowledge a batch');
      reply.header('retry-after', String(RETRY_AFTER_SECONDS));
      return reply.code(503).send({
        error: 'dependency_unavailable',
        message: `Kafka did not acknowledge ${failed.length} of ${events.length} events${timedOut ? ` within ${s.deliveryTimeoutMs} ms (INGEST_DELIVERY_TIMEOUT_MS)` : ''}; some may be stored: retry with the same event_ids`,
        event_ids: eventIds,
      });
    }
    metrics.events.inc({ outcome: 'accepted' }, events.length);
    return reply.code(202).send({ event_ids: eventIds, generated_event_ids: generated });
  });
  await app.ready();
  return app;
}
