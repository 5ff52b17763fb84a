import { newEventId } from './event-id';
import { InvalidInputError } from '../errors';
import type { CacheWriteTokens, PriceBook, Priced } from '../pricing/price-book';
import { CostEvent, CostType, validateCostEvent, ValidationLimits } from './cost-event';

/**
 * A cost event as a producer hands it over: the id and time may be left to be filled in, and the
 * amount and price record may be left to the price book, which prices the usage the event carries.
 */
export type CostEventDraft = Omit<CostEvent, 'event_id' | 'event_time' | 'amount' | 'price'> & {
  event_id?: string | null;
  event_time?: Date | null;
  /** Nano-USD; absent: priced from the usage by the price book. */
  amount?: bigint | null;
  /** The prices behind a given amount; absent with an amount: recorded as the producer's own. */
  price?: CostEvent['price'] | null;
};

/** What an amount given by the producer without a price record is recorded as. */
export const PRODUCER_PRICE: CostEvent['price'] = Object.freeze({ source: 'producer', version: 'producer', status: 'priced', unit_prices: Object.freeze({}) as Record<string, string> });

const USAGE_OF: Record<Exclude<CostType, 'other'>, 'llm_usage' | 'compute_usage' | 'vector_db_usage'> = {
  openai_api: 'llm_usage',
  kubernetes: 'compute_usage',
  vector_db: 'vector_db_usage',
};

function checkCount(field: string, n: unknown): void {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new InvalidInputError(`${field}.invalid`, `${field} must be a non-negative integer, got ${JSON.stringify(n)}`);
}

/** Prompt-cache writes an LLM event records in metadata (its usage record has no field for them). */
function cacheWrites(metadata: Record<string, string> | undefined): CacheWriteTokens | undefined {
  const fiveMinute = metadata?.cache_write_input_tokens;
  const oneHour = metadata?.cache_write_1h_input_tokens;
  if (fiveMinute === undefined && oneHour === undefined) return undefined;
  const count = (field: string, text: string | undefined): number => {
    if (text === undefined) return 0;
    const n = /^\d+$/.test(text) ? Number(text) : NaN;
    checkCount(`metadata.${field}`, n);
    return n;
  };
  return { fiveMinute: count('cache_write_input_tokens', fiveMinute), oneHour: count('cache_write_1h_input_tokens', oneHour) };
}

/** Prices the usage of an event of `cost_type` at `at` (its event time) with the price book (throws naming the missing usage). */
export function priceUsage(draft: CostEventDraft, priceBook: PriceBook, at: Date = draft.event_time ?? new Date()): Priced {
  if (draft.cost_type === 'other') throw new InvalidInputError('amount.missing', 'amount is required for cost_type "other": it has no usage the price book can price');
  const field = USAGE_OF[draft.cost_type];
  if (!field) throw new InvalidInputError('cost_type.invalid', `cost_type must be one of openai_api, kubernetes, vector_db, other; got ${JSON.stringify(draft.cost_type)}`);
  if (!draft[field]) throw new InvalidInputError(`${field}.missing`, `${field} is required to price a ${draft.cost_type} event without an amount`);
  if (draft.llm_usage && field === 'llm_usage') {
    const u = draft.llm_usage;
    checkCount('llm_usage.input_tokens', u.input_tokens);
    checkCount('llm_usage.output_tokens', u.output_tokens);
    checkCount('llm_usage.cached_input_tokens', u.cached_input_tokens);
    if (!u.model) throw new InvalidInputError('llm_usage.model.missing', 'llm_usage.model is required');
    return priceBook.llm(u.provider, u.model, u.input_tokens, u.output_tokens, u.cached_input_tokens, at, cacheWrites(draft.metadata));
  }
  if (draft.compute_usage && field === 'compute_usage') {
    const u = draft.compute_usage;
    if (u.cpu_cores < 0n || u.memory_gb < 0n) throw new InvalidInputError('compute_usage.negative', 'compute usage is negative');
    checkCount('compute_usage.duration_ms', u.duration_ms);
    return priceBook.compute(u.cpu_cores, u.memory_gb, u.duration_ms);
  }
  const u = draft.vector_db_usage!;
  checkCount('vector_db_usage.units', u.units);
  return priceBook.vectorDb(u.operation, u.units);
}

/**
 * The one way a producer's cost event becomes what goes on the wire, for the SDK's track calls
 * and for HTTP ingest alike: an id (a new UUID) and a time (now) when none is given, the amount
 * priced from the usage when none is given, then the checks the storage consumer applies
 * (validateCostEvent), so what a producer accepts storage stores. Throws InvalidInputError
 * naming the field.
 */
export function completeCostEvent(draft: CostEventDraft, priceBook: PriceBook, limits: ValidationLimits): CostEvent {
  return completeOwnedDraft({
    event_id: draft.event_id,
    event_time: draft.event_time,
    cost_type: draft.cost_type,
    amount: draft.amount,
    currency: draft.currency,
    persona_id: draft.persona_id,
    post_id: draft.post_id,
    operation: draft.operation,
    service: draft.service,
    correlation_id: draft.correlation_id,
    request_id: draft.request_id,
    llm_usage: draft.llm_usage,
    compute_usage: draft.compute_usage,
    vector_db_usage: draft.vector_db_usage,
    price: draft.price,
    metadata: draft.metadata,
  }, priceBook, limits);
}

/**
 * completeCostEvent on a draft made for this call alone, with exactly the event's fields in its
 * order (the SDK's track calls): completed in place, so the event is the draft, not a copy of it.
 */
export function completeOwnedDraft(draft: CostEventDraft, priceBook: PriceBook, limits: ValidationLimits): CostEvent {
  // One time for the event and its price: a price that changed since (or will change) does not apply to it.
  const eventTime = draft.event_time ?? new Date();
  let pricedFromUsage = false;
  if (draft.amount === undefined || draft.amount === null) {
    if (draft.price) throw new InvalidInputError('price.without_amount', 'price is recorded by the price book when amount is absent; send both amount and price, or neither');
    const priced = priceUsage(draft, priceBook, eventTime);
    draft.amount = priced.nanoUsd;
    draft.price = priced.price;
    // Cache writes are priced at their own rates, which the amount-scale check does not know.
    pricedFromUsage = draft.metadata?.cache_write_input_tokens === undefined && draft.metadata?.cache_write_1h_input_tokens === undefined;
  } else {
    draft.price = draft.price ?? PRODUCER_PRICE;
  }
  draft.event_id = draft.event_id ?? newEventId();
  draft.event_time = eventTime;
  const event = draft as CostEvent;
  validateCostEvent(event, limits, pricedFromUsage);
  return event;
}
