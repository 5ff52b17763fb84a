/** The CostAnomaly record (schemas/cost-anomaly.avsc) as avsc decodes it. */
export type AnomalyStatus = 'open' | 'escalated' | 'resolved';
export type AnomalyType = 'cost_spike' | 'efficiency_drop' | 'negative_roi' | 'budget_threshold' | 'post_cost_threshold' | 'other';
export type Severity = 'low' | 'medium' | 'high' | 'critical';

export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

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
