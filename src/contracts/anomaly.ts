/**
 * The anomaly event as it goes on the wire (schemas/cost-anomaly.avsc, decoded by avsc with the
 * pipeline's logical types) and into cost_anomalies: produced by the anomaly consumer, read by
 * the alert router, the circuit breaker and the query API.
 */

/** In escalation order; SEVERITY_RANK and severityRank follow it. */
export const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];
export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { low: 0, medium: 1, high: 2, critical: 3 };

export function severityRank(s: Severity): number {
  return SEVERITY_RANK[s];
}

export type AnomalyStatus = 'open' | 'escalated' | 'resolved';

/** What a budget covers: one persona, a service, a team (persona → team mapping), a model, a metadata tag key=value, or everything. */
export type BudgetScopeKind = 'persona' | 'service' | 'team' | 'model' | 'tag' | 'global';
export const BUDGET_SCOPE_KINDS: readonly BudgetScopeKind[] = ['persona', 'service', 'team', 'model', 'tag', 'global'];

/**
 * One contributor to a cost anomaly: the spend of one (model, operation, service) in the anomaly's
 * window or period, above what the baseline expected of it, with its share of the whole excess.
 * `post_id` is the post that spent most within it, when known.
 */
export interface RootCause {
  model: string | null;
  operation: string | null;
  service: string | null;
  post_id: string | null;
  /** Exact decimal USD above the contributor's baseline share. */
  excess_usd: string;
  /** Share of the anomaly's total excess, percent (display). */
  share_percent: number;
}

/** Root causes in one line for people: "gpt-4o hook_generation (post p1): +$0.41 (83 %); …". */
export function rootCauseLine(causes: readonly RootCause[] | undefined): string {
  if (!causes || causes.length === 0) return '';
  return causes
    .map((c) => {
      const what = [c.model, c.operation, c.service].filter((x) => x !== null && x !== '').join(' ') || 'other';
      const n = Number(c.excess_usd); // display only
      return `${what}${c.post_id ? ` (post ${c.post_id})` : ''}: +$${n >= 0.01 ? n.toFixed(2) : n.toFixed(4)} (${Math.round(c.share_percent)} %)`;
    })
    .join('; ');
}

/** The types the anomaly consumer detects. */
export const DETECTED_ANOMALY_TYPES = ['cost_spike', 'efficiency_drop', 'negative_roi', 'budget_threshold', 'budget_forecast', 'post_cost_threshold'] as const;
export type DetectedAnomalyType = (typeof DETECTED_ANOMALY_TYPES)[number];
/** `other` is the schema's default for types a reader does not know yet. */
export type AnomalyType = DetectedAnomalyType | 'other';

/**
 * The unit of `observed`, `baseline` and `threshold` for each type, and what `multiplier` holds:
 *
 * | type                | unit                                 | observed / baseline          | multiplier                 |
 * |---------------------|--------------------------------------|------------------------------|----------------------------|
 * | cost_spike          | usd                                  | window spend / median window | spend ÷ baseline           |
 * | efficiency_drop     | usd_per_follow or usd_per_engagement | cost per action now / before | baseline ÷ now efficiency  |
 * | negative_roi        | percent                              | ROI % / none                 | none                       |
 * | budget_threshold    | usd                                  | period spend / budget        | use ratio (spend ÷ budget) |
 * | budget_forecast     | usd                                  | projected spend / budget     | projected ÷ budget         |
 * | post_cost_threshold | usd                                  | post cost / target           | cost ÷ target              |
 *
 * (A spike's `threshold` is the multiplier level crossed; every other threshold is in `unit`.)
 */
export interface AnomalyUnits {
  cost_spike: 'usd';
  efficiency_drop: 'usd_per_follow' | 'usd_per_engagement';
  negative_roi: 'percent';
  budget_threshold: 'usd';
  budget_forecast: 'usd';
  post_cost_threshold: 'usd';
  other: AnomalyUnit;
}
export type AnomalyUnit = 'usd' | 'usd_per_follow' | 'usd_per_engagement' | 'percent';

/** What a detector measured, with the type tying `anomaly_type` to its `unit` (narrow on `anomaly_type`). */
export type AnomalyMeasure<T extends AnomalyType = AnomalyType> = {
  [K in T]: { anomaly_type: K; unit: AnomalyUnits[K] };
}[T];

/** The fields every anomaly has, whatever its type. */
export interface AnomalyFields {
  anomaly_id: string;
  sequence: number;
  status: AnomalyStatus;
  severity: Severity;
  persona_id: string;
  post_id: string | null;
  detected_at: Date;
  window_start: Date;
  window_end: Date;
  /** Exact decimal text in `unit`. */
  observed: string;
  baseline: string | null;
  threshold: string;
  multiplier: number | null;
  triggering_event_ids: string[];
  trigger_published_at: Date | null;
  message: string;
  details: Record<string, string>;
  /** The budget scope of budget anomalies; null for the others (and in records written before scopes). */
  scope_kind?: BudgetScopeKind | null;
  scope_value?: string | null;
  /** Top contributors of a cost anomaly, largest first; empty when not attributed. */
  root_causes?: RootCause[];
}

export type CostAnomaly = AnomalyFields & AnomalyMeasure;
