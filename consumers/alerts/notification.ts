import { AnomalyType, CostAnomaly, Severity } from '../../src/contracts/anomaly';

/** Where the notification came from: for the dead-letter record and the latency figure. */
export interface Origin {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Kafka timestamp of the anomaly record, ms. */
  timestamp: number;
}

/** One message to send on one or more channels; (alert_id, sequence, channel) is delivered once. */
export interface Notification {
  alert_id: string;
  sequence: number;
  kind: 'anomaly' | 'resolution' | 'group' | 'page';
  persona_id: string;
  anomaly_type: AnomalyType | null;
  severity: Severity;
  title: string;
  /** Label/value lines of the seed template: Type, Severity, Persona, Current cost, Multiplier. */
  lines: [string, string][];
  summary: string;
  /** PagerDuty incident key: the anomaly id, so trigger and resolve meet. */
  dedup_key: string;
  event_action: 'trigger' | 'resolve';
  count?: number;
  anomaly?: CostAnomaly;
  origin?: Origin;
}
