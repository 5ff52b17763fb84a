import { OpenAnomaly } from './lifecycle';

/** What a closed window leaves behind for baselines. */
export interface ClosedWindow {
  start: number;
  cost: bigint;
  engagements: number;
  follows: number;
  revenue: bigint;
  outcomes: number;
}

/** Running aggregate of one open (not yet closed) event-time window of one persona. */
export interface OpenWindow extends ClosedWindow {
  /** Ids of the latest events that added spend, newest last (bounded). */
  lastIds: string[];
  /** Kafka timestamp of the latest event that added spend (not checkpointed: judging at close then reports none). */
  lastPublishedAt?: number;
}

export type PersonaSlot = 'cost_spike' | 'efficiency_drop' | 'negative_roi' | 'budget_threshold:daily' | 'budget_threshold:monthly';

export interface PersonaState {
  personaId: string;
  /** Open windows, oldest first: usually one, two around a boundary within the allowed lateness. */
  open: OpenWindow[];
  /** Closed windows with activity, oldest first, at most max(baseline + 1, ROI) of them. */
  history: ClosedWindow[];
  /** Median spend of the last baseline windows with spend (recomputed when a window closes). */
  spikeBaseline: bigint | null;
  spikeBaselineWindows: number;
  lastEventTime: number;
  dayStart: number;
  daySpend: bigint;
  monthStart: number;
  monthSpend: bigint;
  anomalies: Partial<Record<PersonaSlot, OpenAnomaly>>;
}

/** One post's running totals (outcomes are cumulative on the wire; we keep the largest seen). */
export interface PostState {
  /** The post id, or persona + post id for an id already held for another persona. */
  key: string;
  postId: string;
  personaId: string;
  partition: number;
  cost: bigint;
  engagements: number;
  follows: number;
  revenue: bigint;
  firstEventTime: number;
  lastEventTime: number;
  anomaly: OpenAnomaly | null;
}

export function newPersona(personaId: string): PersonaState {
  return {
    personaId,
    open: [],
    history: [],
    spikeBaseline: null,
    spikeBaselineWindows: 0,
    lastEventTime: 0,
    dayStart: 0,
    daySpend: 0n,
    monthStart: 0,
    monthSpend: 0n,
    anomalies: {},
  };
}

/** The open window starting at `start`, created in order if missing. */
export function windowAt(p: PersonaState, start: number): OpenWindow {
  let i = p.open.length - 1;
  while (i >= 0 && p.open[i].start > start) i--;
  if (i >= 0 && p.open[i].start === start) return p.open[i];
  const w: OpenWindow = { start, cost: 0n, engagements: 0, follows: 0, revenue: 0n, outcomes: 0, lastIds: [] };
  p.open.splice(i + 1, 0, w);
  return w;
}

/** Median of the spend of the last `n` closed windows that had spend (upper median for even counts). */
export function medianSpend(history: ClosedWindow[], n: number): { median: bigint | null; windows: number } {
  const costs: bigint[] = [];
  for (let i = history.length - 1; i >= 0 && costs.length < n; i--) if (history[i].cost > 0n) costs.push(history[i].cost);
  if (costs.length === 0) return { median: null, windows: 0 };
  costs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return { median: costs[Math.floor(costs.length / 2)], windows: costs.length };
}

export function utcDayStart(t: number): number {
  return Math.floor(t / 86_400_000) * 86_400_000;
}

export function utcMonthStart(t: number): number {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export function utcMonthEnd(monthStart: number): number {
  const d = new Date(monthStart);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}
