import { CostAnomaly, Severity, severityRank } from '../../src/contracts/anomaly';

export interface Clock {
  now(): number;
}

/** An escalation held back, with what its caller needs once it is sent or superseded (e.g. its offset). */
export interface Held<T> {
  anomaly: CostAnomaly;
  item: T;
}

/** One notice standing for every escalation held within the window: the latest state at the highest severity. */
export interface FollowUp<T> {
  anomaly: CostAnomaly;
  /** The state the follow-up is sent as (its sequence is the delivery key). */
  representative: Held<T>;
  /** Held states it stands for, other than the representative's own sequence: recorded, never sent alone. */
  superseded: Held<T>[];
  /** Every held entry (representative and superseded, with repeats), for the caller to release. */
  held: Held<T>[];
}

export type Offer<T> = { decision: 'send'; superseded: Held<T>[] } | { decision: 'hold' };

interface Entry<T> {
  lastNoticeAt: number;
  pending: Held<T>[];
  dueAt: number;
}

/**
 * Coalesces an anomaly's escalations: the first notice of an anomaly goes out at once, and so does an
 * escalation that comes more than `windowMs` after the anomaly's last notice; an escalation within
 * `windowMs` of it is held, and when the window closes every held escalation goes out as one
 * follow-up carrying the latest state at the highest severity seen. A resolution returns what is held
 * (as `superseded`) for the caller to send as that follow-up before the resolution: a channel only the
 * higher severity routes to (email for a critical) would otherwise never hear of the anomaly, and
 * PagerDuty sees its trigger before its resolve. Pure: no I/O, the clock is injected.
 * Memory: one entry per anomaly noticed within the last `windowMs`.
 */
export class EscalationCoalescer<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(private readonly windowMs: number, private readonly clock: Clock = Date) {}

  get size(): number {
    return this.entries.size;
  }

  /** Decides about one anomaly state that routing and grouping would send now. */
  offer(anomaly: CostAnomaly, item: T): Offer<T> {
    const now = this.clock.now();
    const id = anomaly.anomaly_id;
    const entry = this.entries.get(id);
    if (anomaly.status === 'resolved') {
      this.entries.delete(id);
      return { decision: 'send', superseded: entry?.pending ?? [] };
    }
    if (this.windowMs <= 0) return { decision: 'send', superseded: [] };
    if (anomaly.status === 'escalated' && entry) {
      if (entry.pending.length || now - entry.lastNoticeAt < this.windowMs) {
        if (!entry.pending.length) entry.dueAt = entry.lastNoticeAt + this.windowMs;
        entry.pending.push({ anomaly, item });
        return { decision: 'hold' };
      }
    }
    this.entries.set(id, { lastNoticeAt: now, pending: [], dueAt: 0 });
    return { decision: 'send', superseded: [] };
  }

  /** Follow-ups whose window has closed (all that are held when `all`: shutdown, rebalance). Forgets quiet anomalies. */
  take(all = false): FollowUp<T>[] {
    const now = this.clock.now();
    const out: FollowUp<T>[] = [];
    for (const [id, entry] of this.entries) {
      if (entry.pending.length === 0) {
        if (now - entry.lastNoticeAt >= this.windowMs) this.entries.delete(id);
        continue;
      }
      if (!all && entry.dueAt > now) continue;
      out.push(followUp(entry.pending));
      entry.pending = [];
      entry.lastNoticeAt = now;
    }
    return out;
  }
}

/** The follow-up standing for `held`: the latest state at the highest severity among them. */
export function followUp<T>(held: Held<T>[]): FollowUp<T> {
  let representative = held[0];
  let severity: Severity = held[0].anomaly.severity;
  for (const h of held) {
    if (h.anomaly.sequence > representative.anomaly.sequence) representative = h;
    if (severityRank(h.anomaly.severity) > severityRank(severity)) severity = h.anomaly.severity;
  }
  const seen = new Set([representative.anomaly.sequence]);
  const superseded = held.filter((h) => !seen.has(h.anomaly.sequence) && seen.add(h.anomaly.sequence));
  return { anomaly: { ...representative.anomaly, severity }, representative, superseded, held };
}
