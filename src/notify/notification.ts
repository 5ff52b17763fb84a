import type { AnomalyType, Severity } from '../contracts/anomaly';

/** The channels a notification can go out on. */
export const CHANNELS = ['slack', 'pagerduty', 'email'] as const;
export type ChannelName = (typeof CHANNELS)[number];

/** Where the notification came from: for the dead-letter record and the latency figure. */
export interface Origin {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Kafka timestamp of the record behind the notification, ms. */
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
  /** Free text shown under the lines (the anomaly's own message). */
  detail?: string;
  /** When the event behind it happened (PagerDuty's timestamp); default: when it is sent. */
  occurred_at?: Date;
  /** PagerDuty incident key: the anomaly id, so trigger, follow-ups and resolve meet. */
  dedup_key: string;
  event_action: 'trigger' | 'resolve';
  count?: number;
  origin?: Origin;
}
