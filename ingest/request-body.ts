import { costEventFromJson, CostEventDraft } from '../src/events';
import { InvalidInputError } from '../src/errors';

/** The media types POST /events takes. */
export const JSON_TYPE = 'application/json';
export const CLOUDEVENT_TYPE = 'application/cloudevents+json';
export const CLOUDEVENT_BATCH_TYPE = 'application/cloudevents-batch+json';
/** The CloudEvents `type` of a cost event whose `data` is the event in its JSON form. */
export const COST_EVENT_CE_TYPE = 'finops.cost-event.v1';

/** One refused event of a batch: its index, the field (as posted) and why. */
export interface EventProblem {
  index: number;
  field: string;
  reason: string;
  message: string;
}

/** A batch as posted: each item parsed to a draft, or the problem that stopped it. */
export type ParsedItem = { index: number; draft: CostEventDraft } | { index: number; problem: EventProblem };

/** A problem with the body as a whole (not with one event): answered 400 or 413 naming `field`. */
export class BatchError extends Error {
  constructor(readonly statusCode: 400 | 413, readonly code: string, message: string) {
    super(message);
  }
}

/** The field an InvalidInputError's reason names (`llm_usage.input_tokens.invalid` → `llm_usage.input_tokens`). */
export function fieldOf(err: InvalidInputError): string {
  if (err.reason === 'pricing.unknown_model') return err.message.includes('vector_db:') ? 'vector_db_usage.operation' : 'llm_usage.model';
  const parts = err.reason.split('.');
  return parts.length > 1 ? parts.slice(0, -1).join('.') : err.reason;
}

export function problemOf(index: number, err: InvalidInputError, prefix = ''): EventProblem {
  const field = fieldOf(err);
  return { index, field: `${prefix}${field}`, reason: err.reason, message: `events[${index}].${prefix}${field}: ${err.message}` };
}

const CE_ATTRIBUTES = new Set(['specversion', 'id', 'source', 'type', 'time', 'subject', 'datacontenttype', 'dataschema', 'data', 'data_base64']);
// CloudEvents extension attribute names: lower-case letters and digits.
const CE_EXTENSION = /^[a-z0-9]{1,20}$/;

function ceProblem(index: number, field: string, reason: string, message: string): ParsedItem {
  return { index, problem: { index, field, reason: `${field}.${reason}`, message: `events[${index}].${field}: ${message}` } };
}

/**
 * A CloudEvent in structured mode (JSON) whose `data` is a cost event in its JSON form. The
 * CloudEvent's `id` is the event id and its `time` the event time unless `data` carries them
 * (then they must agree).
 */
function fromCloudEvent(value: unknown, index: number): ParsedItem {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return ceProblem(index, 'cloudevent', 'invalid', 'must be a CloudEvent (a JSON object)');
  const ce = value as Record<string, unknown>;
  if (ce.specversion !== '1.0') return ceProblem(index, 'specversion', ce.specversion === undefined ? 'missing' : 'invalid', `must be "1.0", got ${JSON.stringify(ce.specversion) ?? 'nothing'}`);
  for (const attr of ['id', 'source', 'type'] as const) {
    if (typeof ce[attr] !== 'string' || ce[attr] === '') return ceProblem(index, attr, ce[attr] === undefined ? 'missing' : 'invalid', 'is a required CloudEvents attribute (a non-empty string)');
  }
  if (ce.type !== COST_EVENT_CE_TYPE) return ceProblem(index, 'type', 'invalid', `must be "${COST_EVENT_CE_TYPE}", got ${JSON.stringify(String(ce.type).slice(0, 64))}`);
  for (const k of Object.keys(ce)) {
    if (!CE_ATTRIBUTES.has(k) && !CE_EXTENSION.test(k)) return ceProblem(index, k.slice(0, 64), 'invalid', 'is not a valid CloudEvents attribute name (lower-case letters and digits)');
  }
  if (ce.datacontenttype !== undefined && !/^application\/json(\s*;.*)?$/i.test(String(ce.datacontenttype))) {
    return ceProblem(index, 'datacontenttype', 'unsupported', `must be application/json (data is the cost event in its JSON form), got ${JSON.stringify(String(ce.datacontenttype).slice(0, 64))}`);
  }
  if (ce.data_base64 !== undefined) return ceProblem(index, 'data_base64', 'unsupported', 'is not accepted: send the cost event as JSON in `data`');
  if (typeof ce.data !== 'object' || ce.data === null || Array.isArray(ce.data)) return ceProblem(index, 'data', ce.data === undefined ? 'missing' : 'invalid', 'must be the cost event as a JSON object');
  const data = { ...(ce.data as Record<string, unknown>) };
  if (data.event_id === undefined || data.event_id === null) data.event_id = ce.id;
  else if (data.event_id !== ce.id) return ceProblem(index, 'data.event_id', 'conflict', `differs from the CloudEvent id ${JSON.stringify(String(ce.id).slice(0, 64))}; leave it out or make them equal`);
  if (ce.time !== undefined && (data.event_time === undefined || data.event_time === null)) data.event_time = ce.time;
  try {
    return { index, draft: costEventFromJson(data) };
  } catch (err) {
    if (err instanceof InvalidInputError) return { index, problem: problemOf(index, err, 'data.') };
    throw err;
  }
}

function fromJson(value: unknown, index: number): ParsedItem {
  try {
    return { index, draft: costEventFromJson(value) };
  } catch (err) {
    if (err instanceof InvalidInputError) return { index, problem: problemOf(index, err) };
    throw err;
  }
}

/**
 * The items of a POST /events body by its media type: application/json takes an array of cost
 * events or {"events": [...]}; application/cloudevents+json one CloudEvent;
 * application/cloudevents-batch+json an array of CloudEvents.
 */
export function parseBatch(mediaType: string, body: unknown, maxBatch: number): ParsedItem[] {
  let items: unknown[];
  let parse: (v: unknown, i: number) => ParsedItem;
  if (mediaType === CLOUDEVENT_TYPE) {
    items = [body];
    parse = fromCloudEvent;
  } else if (mediaType === CLOUDEVENT_BATCH_TYPE) {
    if (!Array.isArray(body)) throw new BatchError(400, 'invalid_value', 'body must be a JSON array of CloudEvents (application/cloudevents-batch+json)');
    items = body;
    parse = fromCloudEvent;
  } else {
    if (Array.isArray(body)) items = body;
    else if (typeof body === 'object' && body !== null && Array.isArray((body as { events?: unknown }).events) && Object.keys(body).length === 1) items = (body as { events: unknown[] }).events;
    else throw new BatchError(400, 'invalid_value', 'body must be a JSON array of cost events or {"events": [...]}');
    parse = fromJson;
  }
  if (items.length === 0) throw new BatchError(400, 'empty_batch', 'events: the batch is empty; send 1 to ' + maxBatch + ' events');
  if (items.length > maxBatch) throw new BatchError(413, 'batch_too_large', `events: the batch has ${items.length} events; at most ${maxBatch} (INGEST_MAX_BATCH) per request`);
  return items.map((v, i) => parse(v, i));
}
