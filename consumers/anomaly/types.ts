/** What the anomaly detectors produce and the consumer publishes (schemas/cost-anomaly.avsc). */

import type { AnomalyType as WireAnomalyType, BudgetScopeKind, CostAnomaly, RootCause, Severity } from '../../src/contracts/anomaly';
export type { AnomalyStatus, Severity } from '../../src/contracts/anomaly';
/** The types this consumer detects (the wire type also admits `other`). */
export type AnomalyType = Exclude<WireAnomalyType, 'other'>;

export const SEVERITY_RANK: Record<Severity, number> = { low: 0, medium: 1, high: 2, critical: 3 };

/** A detector's verdict that a condition holds now. Values are exact decimal text. */
export interface Finding {
  type: AnomalyType;
  severity: Severity;
  observed: string;
  baseline: string | null;
  threshold: string;
  unit: 'usd' | 'usd_per_follow' | 'usd_per_engagement' | 'percent' | 'multiplier';
  multiplier: number | null;
  message: string;
  details: Record<string, string>;
  /** Budget anomalies on a scope. */
  scope?: { kind: BudgetScopeKind; value: string };
  /** Top contributors (cost anomalies), largest first. */
  rootCauses?: RootCause[];
}

/** One state of an anomaly, as it goes on the wire and into cost_anomalies. */
export type AnomalyRecord = CostAnomaly;
