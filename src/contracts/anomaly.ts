/**
 * The anomaly event as it goes on the wire (schemas/cost-anomaly.avsc, decoded by avsc with the
 * pipeline's logical types) and into cost_anomalies: produced by the anomaly consumer, read by
 * the alert router and the circuit breaker.
 */
export type Severity = 'low' | 'medium' | 'high' | 'critical';
/** Severities from lowest to highest. */
export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}
export type AnomalyStatus = 'open' | 'escalated' | 'resolved';
/** `other` is the schema's default for types a reader does not know yet. */
export type AnomalyType = 'cost_spike' | 'efficiency_drop' | 'negative_roi' | 'budget_threshold' | 'post_cost_threshold' | 'other';

export interface CostAnomaly {
  anomaly_id: string;
  sequence: number;
  status: AnomalyStatus;
  anomaly_type: AnomalyType;
  severity: Severity;
  persona_id: string;
  post_id: string | null;
  detected_at: Date;
  window_start: Date;
  window_end: Date;
  observed: string;
  baseline: string | null;
  threshold: string;
  unit: string;
  multiplier: number | null;
  triggering_event_ids: string[];
  trigger_published_at: Date | null;
  message: string;
  details: Record<string, string>;
}
