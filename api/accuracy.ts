/**
 * Attribution confidence, computed from what each stored event actually carries.
 *
 *   event confidence = 0.95 + 0.01 × (number of factors present), at most 0.99, where the factors are
 *     correlation_id       the event has a correlation id (ties it to the request chain)
 *     request_id           the event has a request id (ties it to one provider call)
 *     operation_specified  the event names its operation (e.g. hook_generation)
 *     usage_specified      the usage behind the amount is recorded: model and tokens for openai_api,
 *                          cpu cores, memory and duration for kubernetes, operation and units for vector_db
 *   except: an event whose price was not known (price_status ≠ 'priced') has confidence 0.50,
 *   because its amount is not a priced usage; it is counted in `unpriced_events`.
 *   post accuracy_score = mean event confidence over all the post's events, rounded half-up to 4 decimals.
 *   high-confidence event: confidence ≥ 0.97 (at least two factors).
 * The 0.95 base and +0.01 steps are seed 002's; unlike the seed, the score is not floored at 0.95.
 * Confidences are integer basis points, so the mean is exact before its one rounding.
 */
export type Factor = 'correlation_id' | 'request_id' | 'operation_specified' | 'usage_specified';
export const FACTORS: readonly Factor[] = ['correlation_id', 'request_id', 'operation_specified', 'usage_specified'];

export const BASE_BP = 9500;
export const STEP_BP = 100;
export const MAX_BP = 9900;
export const UNPRICED_BP = 5000;
export const HIGH_CONFIDENCE_BP = 9700;

export interface EventTraits {
  factors: Factor[];
  priced: boolean;
}

export function eventConfidenceBp(t: EventTraits): number {
  if (!t.priced) return UNPRICED_BP;
  return Math.min(MAX_BP, BASE_BP + STEP_BP * new Set(t.factors).size);
}

export const bpToScore = (bp: number): number => bp / 10_000;

/** Events grouped by identical traits (the SQL returns at most 32 such groups per post). */
export interface TraitGroup extends EventTraits {
  count: number;
}

export interface AccuracySummary {
  accuracy_score: number | null;
  total_events: number;
  high_confidence_events: number;
  unpriced_events: number;
  factor_coverage: Record<Factor, number>;
  formula: string;
}

export const FORMULA =
  'per event: 0.95 + 0.01 per factor present (correlation_id, request_id, operation_specified, usage_specified), max 0.99; 0.50 if unpriced. Score: mean over all events, 4 decimals.';

export function summarize(groups: TraitGroup[]): AccuracySummary {
  let total = 0;
  let sumBp = 0;
  let high = 0;
  let unpriced = 0;
  const coverage = Object.fromEntries(FACTORS.map((f) => [f, 0])) as Record<Factor, number>;
  for (const g of groups) {
    const bp = eventConfidenceBp(g);
    total += g.count;
    sumBp += bp * g.count;
    if (bp >= HIGH_CONFIDENCE_BP) high += g.count;
    if (!g.priced) unpriced += g.count;
    for (const f of new Set(g.factors)) coverage[f] += g.count;
  }
  // mean in basis points, rounded half-up to a whole basis point (= 4 decimals of the score)
  const score = total === 0 ? null : bpToScore(Math.floor((2 * sumBp + total) / (2 * total)));
  return { accuracy_score: score, total_events: total, high_confidence_events: high, unpriced_events: unpriced, factor_coverage: coverage, formula: FORMULA };
}
