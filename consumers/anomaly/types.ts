/** What the anomaly detectors produce and the consumer publishes (schemas/cost-anomaly.avsc). */

export type Severity = 'low' | 'medium' | 'high' | 'critical';
export type AnomalyType = 'cost_spike' | 'efficiency_drop' | 'negative_roi' | 'budget_threshold' | 'post_cost_threshold';
export type AnomalyStatus = 'open' | 'escalated' | 'resolved';

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
}

/** One state of an anomaly, as it goes on the wire and into cost_anomalies. */
export interface AnomalyRecord {
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
