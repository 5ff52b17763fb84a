import { InvalidInputError } from '../errors';
import { MAX_EVENT_NANO_USD } from '../money';
import { checkAmountScale } from './amount-scale';

export type CostType = 'openai_api' | 'kubernetes' | 'vector_db' | 'other';
export type PriceStatus = 'priced' | 'unknown_model' | 'unpriced';

export interface LlmUsage {
  provider: string;
  model: string;
  input_tokens: number;
  output_tokens: number;
  cached_input_tokens: number;
}

export interface ComputeUsage {
  resource_type: string;
  /** Micro-cores (scale 6), exact. */
  cpu_cores: bigint;
  /** Micro-GB (scale 6), exact. */
  memory_gb: bigint;
  duration_ms: number;
}

export interface VectorDbUsage {
  provider: string;
  operation: string;
  units: number;
}

export interface PriceApplied {
  source: string;
  version: string;
  status: PriceStatus;
  unit_prices: Record<string, string>;
}

/** A cost event as it is on the wire (schemas/cost-event.avsc). `amount` is nano-USD. */
export interface CostEvent {
  event_id: string;
  event_time: Date;
  cost_type: CostType;
  amount: bigint;
  currency: string;
  persona_id: string;
  post_id: string | null;
  operation: string | null;
  service: string | null;
  correlation_id: string | null;
  request_id: string | null;
  llm_usage: LlmUsage | null;
  compute_usage: ComputeUsage | null;
  vector_db_usage: VectorDbUsage | null;
  price: PriceApplied;
  metadata: Record<string, string>;
}

/** A post's outcome (schemas/post-outcome.avsc). `revenue` is nano-USD. */
export interface PostOutcome {
  event_id: string;
  post_id: string;
  persona_id: string;
  occurred_at: Date;
  follows: number;
  engagements: number;
  revenue: bigint;
  currency: string;
  /** The totals are final (no later update); absent in messages written before the field existed (read as false). */
  is_final: boolean;
}

export interface ValidationLimits {
  now: number;
  maxFutureSkewMs: number;
  maxPastAgeMs: number;
  maxMetadataBytes: number;
}

const MAX_ID_LENGTH = 255;
// Printable text without control characters; ids end up in URLs, logs, SQL parameters and alerts.
function hasControlCharacter(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

function checkId(field: string, value: string | null | undefined, required: boolean): void {
  if (value === null || value === undefined || value === '') {
    if (required) throw new InvalidInputError(`${field}.missing`, `${field} is required`);
    return;
  }
  if (value.length > MAX_ID_LENGTH) throw new InvalidInputError(`${field}.too_long`, `${field} is ${value.length} characters; at most ${MAX_ID_LENGTH}`);
  if (hasControlCharacter(value)) throw new InvalidInputError(`${field}.control_characters`, `${field} contains control characters`);
}

function checkTime(field: string, time: Date, limits: ValidationLimits): void {
  const t = time instanceof Date ? time.getTime() : NaN;
  if (!Number.isFinite(t)) throw new InvalidInputError(`${field}.invalid`, `${field} is not a valid time`);
  if (t > limits.now + limits.maxFutureSkewMs) {
    throw new InvalidInputError(`${field}.future`, `${field} ${new Date(t).toISOString()} is more than ${limits.maxFutureSkewMs} ms in the future`);
  }
  if (t < limits.now - limits.maxPastAgeMs) {
    throw new InvalidInputError(`${field}.too_old`, `${field} ${new Date(t).toISOString()} is older than the accepted ${Math.round(limits.maxPastAgeMs / 86_400_000)} days`);
  }
}

function checkAmount(field: string, amount: bigint): void {
  if (typeof amount !== 'bigint') throw new InvalidInputError(`${field}.invalid`, `${field} is not a decimal`);
  if (amount < 0n) throw new InvalidInputError(`${field}.negative`, `${field} is negative`);
  if (amount > MAX_EVENT_NANO_USD) throw new InvalidInputError(`${field}.overflow`, `${field} exceeds the largest storable amount`);
}

function checkCount(field: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidInputError(`${field}.invalid`, `${field} must be a non-negative integer, got ${n}`);
}

const EMPTY_METADATA_BYTES = Buffer.byteLength(JSON.stringify({}));

/**
 * Checks a decoded cost event; throws InvalidInputError naming the first problem.
 * `pricedFromUsage`: the amount is the price book's price of the event's own usage at the unit
 * prices it records, so it is within 1 nano-USD of what checkAmountScale expects (rounded where
 * that check truncates; tests/unit/amount-scale.test.ts) and that check cannot fail: it is skipped.
 */
export function validateCostEvent(e: CostEvent, limits: ValidationLimits, pricedFromUsage = false): void {
  checkId('event_id', e.event_id, true);
  checkId('persona_id', e.persona_id, true);
  checkId('post_id', e.post_id, false);
  checkId('operation', e.operation, false);
  checkId('service', e.service, false);
  checkId('correlation_id', e.correlation_id, false);
  checkId('request_id', e.request_id, false);
  checkTime('event_time', e.event_time, limits);
  checkAmount('amount', e.amount);
  if (e.currency !== 'USD') throw new InvalidInputError('currency.unsupported', `currency ${JSON.stringify(e.currency)} is not supported; amounts must be in USD`);
  if (e.llm_usage) {
    checkCount('llm_usage.input_tokens', e.llm_usage.input_tokens);
    checkCount('llm_usage.output_tokens', e.llm_usage.output_tokens);
    checkCount('llm_usage.cached_input_tokens', e.llm_usage.cached_input_tokens);
    checkId('llm_usage.model', e.llm_usage.model, true);
  }
  if (e.compute_usage) {
    if (e.compute_usage.cpu_cores < 0n || e.compute_usage.memory_gb < 0n) throw new InvalidInputError('compute_usage.negative', 'compute usage is negative');
    checkCount('compute_usage.duration_ms', e.compute_usage.duration_ms);
  }
  if (e.vector_db_usage) checkCount('vector_db_usage.units', e.vector_db_usage.units);
  if (!pricedFromUsage) checkAmountScale(e);
  const metadata = e.metadata ?? {};
  const keys = Object.keys(metadata);
  for (const k of keys) {
    // Postgres text and jsonb cannot hold U+0000.
    if (k.includes('\u0000') || metadata[k].includes('\u0000')) throw new InvalidInputError('metadata.nul_character', `metadata entry ${JSON.stringify(k.slice(0, 64))} contains a NUL character`);
  }
  const metadataBytes = keys.length === 0 ? EMPTY_METADATA_BYTES : Buffer.byteLength(JSON.stringify(metadata));
  if (metadataBytes > limits.maxMetadataBytes) {
    throw new InvalidInputError('metadata.too_large', `metadata is ${metadataBytes} bytes; at most ${limits.maxMetadataBytes}`);
  }
}

export function validatePostOutcome(o: PostOutcome, limits: ValidationLimits): void {
  checkId('event_id', o.event_id, true);
  checkId('post_id', o.post_id, true);
  checkId('persona_id', o.persona_id, true);
  checkTime('occurred_at', o.occurred_at, limits);
  checkCount('follows', o.follows);
  checkCount('engagements', o.engagements);
  checkAmount('revenue', o.revenue);
}
