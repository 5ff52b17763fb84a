import { InvalidInputError } from '../errors';
import { parseDecimal, usdToNano } from '../money';
import type { CostEventDraft } from './complete-cost-event';
import type { CostType, PriceApplied, PriceStatus } from './cost-event';

/**
 * The JSON form of a cost event: the fields of schemas/cost-event.avsc by their names, with
 * amounts and unit prices as decimal text (or JSON numbers), times as RFC 3339 text or epoch
 * milliseconds, `event_id`, `event_time`, `currency`, `amount` and `price` optional (an amount
 * left out is priced from the usage). Parsing checks types and names the field of the first
 * problem; completeCostEvent then applies the checks every producer's events go through.
 */

const COST_TYPES: readonly CostType[] = ['openai_api', 'kubernetes', 'vector_db', 'other'];
const PRICE_STATUSES: readonly PriceStatus[] = ['priced', 'unknown_model', 'unpriced'];
const FIELDS = new Set([
  'event_id', 'event_time', 'cost_type', 'amount', 'currency', 'persona_id', 'post_id', 'operation', 'service', 'correlation_id',
  'request_id', 'llm_usage', 'compute_usage', 'vector_db_usage', 'price', 'metadata',
]);
const LLM_FIELDS = new Set(['provider', 'model', 'input_tokens', 'output_tokens', 'cached_input_tokens']);
const COMPUTE_FIELDS = new Set(['resource_type', 'cpu_cores', 'memory_gb', 'duration_ms']);
const VECTOR_FIELDS = new Set(['provider', 'operation', 'units']);
const PRICE_FIELDS = new Set(['source', 'version', 'status', 'unit_prices']);
/** RFC 3339 date-time with a zone (Z or ±hh:mm), as CloudEvents' `time`. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const invalid = (field: string, message: string) => new InvalidInputError(`${field}.invalid`, `${field} ${message}`);

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function object(value: unknown, field: string, known: Set<string>): Obj {
  if (!isObject(value)) throw field ? invalid(field, `must be a JSON object, got ${kind(value)}`) : new InvalidInputError('event.invalid', `a cost event must be a JSON object, got ${kind(value)}`);
  for (const k of Object.keys(value)) {
    if (!known.has(k)) {
      const name = field ? `${field}.${k}` : k;
      throw new InvalidInputError(`${name}.unknown`, `unknown field ${JSON.stringify(name.slice(0, 128))}; the fields are those of schemas/cost-event.avsc`);
    }
  }
  return value;
}

function kind(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v;
}

function requiredString(o: Obj, key: string, field: string): string {
  const v = o[key];
  if (v === undefined || v === null || v === '') throw new InvalidInputError(`${field}.missing`, `${field} is required`);
  if (typeof v !== 'string') throw invalid(field, `must be a string, got ${kind(v)}`);
  return v;
}

function optionalString(o: Obj, key: string, field: string, fallback: string | null = null): string | null {
  const v = o[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string') throw invalid(field, `must be a string or null, got ${kind(v)}`);
  return v;
}

function count(o: Obj, key: string, field: string, fallback?: number): number {
  const v = o[key];
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  if (v === undefined || v === null) throw new InvalidInputError(`${field}.missing`, `${field} is required`);
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid(field, `must be a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
}

function decimalValue(v: unknown, field: string): string | number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.length <= 64) return v;
  throw invalid(field, `must be a decimal number (as text, e.g. "0.0125"), got ${kind(v)}`);
}

/** A non-negative decimal with at most 6 places, in millionths (cores, GB): the SDK's and the wire's scale. */
export function parseMicroUnits(value: string | number, field: string): bigint {
  let d;
  try {
    d = parseDecimal(value);
  } catch {
    throw new InvalidInputError(`${field}.invalid`, `${field} must be a decimal number, got ${JSON.stringify(value)}`);
  }
  if (d.units < 0n) throw new InvalidInputError(`${field}.negative`, `${field} must not be negative`);
  if (d.scale > 6) throw new InvalidInputError(`${field}.precision`, `${field} has more than 6 decimal places`);
  return d.units * 10n ** BigInt(6 - d.scale);
}

function usdAmount(v: unknown, field: string): bigint {
  const value = decimalValue(v, field);
  try {
    return usdToNano(value);
  } catch (err) {
    if (/precision/.test((err as Error).message)) throw new InvalidInputError(`${field}.precision`, `${field} ${JSON.stringify(value)} has more than 9 decimal places (amounts are exact to 1e-9 USD)`);
    throw invalid(field, `must be a decimal number, got ${JSON.stringify(value)}`);
  }
}

function eventTime(v: unknown, field: string): Date | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw invalid(field, `as a number must be whole epoch milliseconds, got ${v}`);
    return new Date(v);
  }
  if (typeof v === 'string' && RFC3339.test(v)) {
    const t = new Date(v);
    if (!Number.isNaN(t.getTime())) return t;
  }
  throw invalid(field, `must be an RFC 3339 time with a zone (e.g. "2026-01-31T12:00:00.123Z") or epoch milliseconds, got ${JSON.stringify(v)?.slice(0, 64)}`);
}

function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObject(v)) throw invalid(field, `must be a JSON object of strings, got ${kind(v)}`);
  for (const [k, value] of Object.entries(v)) {
    if (typeof value !== 'string') throw invalid(field, `entry ${JSON.stringify(k.slice(0, 64))} must be a string, got ${kind(value)}`);
  }
  return v as Record<string, string>;
}

function price(v: unknown): PriceApplied | null {
  if (v === undefined || v === null) return null;
  const o = object(v, 'price', PRICE_FIELDS);
  const status = o.status ?? 'priced';
  if (!PRICE_STATUSES.includes(status as PriceStatus)) throw invalid('price.status', `must be one of ${PRICE_STATUSES.join(', ')}, got ${JSON.stringify(status)}`);
  const unitPrices = stringMap(o.unit_prices, 'price.unit_prices');
  for (const [k, text] of Object.entries(unitPrices)) {
    try {
      parseDecimal(text);
    } catch {
      throw invalid('price.unit_prices', `entry ${JSON.stringify(k.slice(0, 64))} must be decimal text, got ${JSON.stringify(text.slice(0, 64))}`);
    }
  }
  return { source: requiredString(o, 'source', 'price.source'), version: requiredString(o, 'version', 'price.version'), status: status as PriceStatus, unit_prices: unitPrices };
}

/** Parses one cost event in its JSON form; throws InvalidInputError naming the field of the first problem. */
export function costEventFromJson(value: unknown): CostEventDraft {
  const o = object(value, '', FIELDS);
  const costType = o.cost_type;
  if (costType === undefined || costType === null) throw new InvalidInputError('cost_type.missing', `cost_type is required: one of ${COST_TYPES.join(', ')}`);
  if (!COST_TYPES.includes(costType as CostType)) throw invalid('cost_type', `must be one of ${COST_TYPES.join(', ')}, got ${JSON.stringify(costType)?.slice(0, 64)}`);
  const draft: CostEventDraft = {
    event_id: optionalString(o, 'event_id', 'event_id'),
    event_time: eventTime(o.event_time, 'event_time'),
    cost_type: costType as CostType,
    amount: o.amount === undefined || o.amount === null ? null : usdAmount(o.amount, 'amount'),
    currency: optionalString(o, 'currency', 'currency', 'USD')!,
    persona_id: requiredString(o, 'persona_id', 'persona_id'),
    post_id: optionalString(o, 'post_id', 'post_id'),
    operation: optionalString(o, 'operation', 'operation'),
    service: optionalString(o, 'service', 'service'),
    correlation_id: optionalString(o, 'correlation_id', 'correlation_id'),
    request_id: optionalString(o, 'request_id', 'request_id'),
    llm_usage: null,
    compute_usage: null,
    vector_db_usage: null,
    price: price(o.price),
    metadata: stringMap(o.metadata, 'metadata'),
  };
  if (o.llm_usage !== undefined && o.llm_usage !== null) {
    const u = object(o.llm_usage, 'llm_usage', LLM_FIELDS);
    draft.llm_usage = {
      provider: optionalString(u, 'provider', 'llm_usage.provider', 'openai')!,
      model: requiredString(u, 'model', 'llm_usage.model'),
      input_tokens: count(u, 'input_tokens', 'llm_usage.input_tokens'),
      output_tokens: count(u, 'output_tokens', 'llm_usage.output_tokens'),
      cached_input_tokens: count(u, 'cached_input_tokens', 'llm_usage.cached_input_tokens', 0),
    };
  }
  if (o.compute_usage !== undefined && o.compute_usage !== null) {
    const u = object(o.compute_usage, 'compute_usage', COMPUTE_FIELDS);
    const micro = (key: string) => {
      if (u[key] === undefined || u[key] === null) throw new InvalidInputError(`compute_usage.${key}.missing`, `compute_usage.${key} is required`);
      return parseMicroUnits(decimalValue(u[key], `compute_usage.${key}`), `compute_usage.${key}`);
    };
    draft.compute_usage = {
      resource_type: optionalString(u, 'resource_type', 'compute_usage.resource_type', 'kubernetes')!,
      cpu_cores: micro('cpu_cores'),
      memory_gb: micro('memory_gb'),
      duration_ms: count(u, 'duration_ms', 'compute_usage.duration_ms'),
    };
  }
  if (o.vector_db_usage !== undefined && o.vector_db_usage !== null) {
    const u = object(o.vector_db_usage, 'vector_db_usage', VECTOR_FIELDS);
    draft.vector_db_usage = {
      provider: optionalString(u, 'provider', 'vector_db_usage.provider', 'generic')!,
      operation: requiredString(u, 'operation', 'vector_db_usage.operation'),
      units: count(u, 'units', 'vector_db_usage.units'),
    };
  }
  return draft;
}
