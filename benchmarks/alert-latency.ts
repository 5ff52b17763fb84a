import type { CostAnomaly } from '../src/contracts/anomaly';
import { severityRank } from '../src/contracts/anomaly';
import type { ChannelName } from '../src/notify/notification';
import { route, RoutingConfig } from '../consumers/alerts/routing';

/** An anomaly state as read from its topic, with the Kafka timestamp of its record. */
export interface StateRecord {
  value: CostAnomaly;
  at: number;
}

/** A notice a receiver accepted: for which anomaly, on which channel, when, and its body (for spotting duplicates). */
export interface Notice {
  anomalyId: string;
  channel: ChannelName;
  resolved: boolean;
  body: string;
  at: number;
}

export interface AlertLatency {
  anomalies: number;
  anomaly_states: number;
  /** (anomaly, channel) deliveries expected: the open state's channels and the highest severity's. */
  expected: number;
  delivered: number;
  lost: number;
  /** The same body accepted twice on one channel for one anomaly. */
  duplicates: number;
  /** Open record → its first notice on each channel the open state routes to. The ≤ 1 s bar. */
  first_notice_ms: number[];
  /** For anomalies that escalated: open record → the last notice on each channel of the highest severity. */
  follow_up_from_open_ms: number[];
  /** The same notices, from the record of the anomaly's last escalation. */
  follow_up_from_last_escalation_ms: number[];
  /** Non-resolution notices per anomaly on its open state's channels (one spike: 2 with coalescing, 1 + escalations without). */
  notices_per_anomaly_max: number;
}

/**
 * Splits alert delivery latency into the first notice, which coalescing never holds, and the
 * follow-up standing for an anomaly's escalations, which waits for the coalescing window by design.
 */
export function alertLatency(records: StateRecord[], notices: Notice[], routing: RoutingConfig, coalesceMs: number): AlertLatency {
  const states = new Map<string, StateRecord[]>();
  for (const r of records) {
    if (r.value.status !== 'resolved') states.set(r.value.anomaly_id, [...(states.get(r.value.anomaly_id) ?? []), r]);
  }
  const sent = new Map<string, number[]>();
  const bodies = new Map<string, number>();
  for (const n of notices) {
    if (n.resolved) continue;
    const key = `${n.anomalyId}|${n.channel}`;
    sent.set(key, [...(sent.get(key) ?? []), n.at]);
    bodies.set(`${key}|${n.body}`, (bodies.get(`${key}|${n.body}`) ?? 0) + 1);
  }
  const out: AlertLatency = {
    anomalies: 0, anomaly_states: 0, expected: 0, delivered: 0, lost: 0,
    duplicates: [...bodies.values()].reduce((s, c) => s + c - 1, 0),
    first_notice_ms: [], follow_up_from_open_ms: [], follow_up_from_last_escalation_ms: [], notices_per_anomaly_max: 0,
  };
  for (const [id, list] of states) {
    const open = list.find((r) => r.value.status === 'open');
    if (!open) continue;
    const escalations = list.filter((r) => r.value.status === 'escalated').sort((a, b) => a.value.sequence - b.value.sequence);
    const top = list.reduce((s, r) => (severityRank(r.value.severity) > severityRank(s) ? r.value.severity : s), open.value.severity);
    const firstChannels = route(open.value, routing);
    const finalChannels = escalations.length ? route({ ...open.value, severity: top }, routing) : [];
    out.anomalies++;
    out.anomaly_states += list.length;
    for (const c of new Set([...firstChannels, ...finalChannels])) {
      out.expected++;
      if (sent.has(`${id}|${c}`)) out.delivered++;
      else out.lost++;
    }
    for (const c of firstChannels) {
      const at = sent.get(`${id}|${c}`) ?? [];
      if (at.length) out.first_notice_ms.push(Math.min(...at) - open.at);
      out.notices_per_anomaly_max = Math.max(out.notices_per_anomaly_max, at.length);
    }
    const last = escalations[escalations.length - 1];
    for (const c of finalChannels) {
      const at = sent.get(`${id}|${c}`);
      if (!at) continue;
      out.follow_up_from_open_ms.push(Math.max(...at) - open.at);
      out.follow_up_from_last_escalation_ms.push(Math.max(...at) - last.at);
    }
  }
  return out;
}

/** The q-quantile (nearest rank) of xs, or null when there are none. */
export const quantile = (xs: number[], q: number): number | null => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * q) - 1)] : null);
