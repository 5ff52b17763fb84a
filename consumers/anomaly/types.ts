/** What the anomaly detectors produce and the consumer publishes (schemas/cost-anomaly.avsc). */

import type { AnomalyMeasure, AnomalyUnits, BudgetScopeKind, CostAnomaly, DetectedAnomalyType, RootCause, Severity } from '../../src/contracts/anomaly';
export type { AnomalyStatus, Severity } from '../../src/contracts/anomaly';
/** The types this consumer detects (the wire type also admits `other`). */
export type AnomalyType = DetectedAnomalyType;

interface FindingFields {
  severity: Severity;
  observed: string;
  baseline: string | null;
  threshold: string;
  multiplier: number | null;
  message: string;
  details: Record<string, string>;
  /** Budget anomalies on a scope. */
  scope?: { kind: BudgetScopeKind; value: string };
  /** Top contributors (cost anomalies), largest first. */
  rootCauses?: RootCause[];
}

/** A detector's verdict that a condition holds now. Values are exact decimal text in `unit` (see src/contracts/anomaly.ts). */
export type Finding = { [K in AnomalyType]: FindingFields & { type: K; unit: AnomalyUnits[K] } }[AnomalyType];

/** The wire type and unit of a finding, still tied together. */
export function measureOf<K extends AnomalyType>(f: { type: K; unit: AnomalyUnits[K] }): AnomalyMeasure<K> {
  return { anomaly_type: f.type, unit: f.unit } as AnomalyMeasure<K>;
}

/** One state of an anomaly, as it goes on the wire and into cost_anomalies. */
export type AnomalyRecord = CostAnomaly;
