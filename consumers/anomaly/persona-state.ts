import { OpenAnomaly, report, Report } from './lifecycle';
import { Contribution } from './root-causes';
import { SeasonalState } from './seasonal';
import { AnomalyRecord } from './types';

/** What a closed window leaves behind for the spike baseline. */
export interface ClosedWindow {
  start: number;
  cost: bigint;
}

/**
 * Sums over the posts of a cohort that reported outcomes: each post's whole cost against that
 * post's own latest (cumulative) outcome. A post with no outcome at all is unknown, not zero,
 * and is left out of the ratio.
 */
export interface CohortSums {
  /** Period covered, [start, end): one cohort period, or several merged while too few posts reported. */
  start: number;
  end: number;
  posts: number;
  cost: bigint;
  engagements: number;
  follows: number;
  revenue: bigint;
}

/** The posts whose first cost fell in one cohort period, while they mature. */
export interface OpenCohort extends CohortSums {
  /** Posts of the period, with or without outcomes, and how many of them reported final outcomes. */
  allPosts: number;
  finalPosts: number;
}

/** Running aggregate of one open (not yet closed) event-time window of one persona. */
export interface OpenWindow extends ClosedWindow {
  /** Ids of the latest events that added spend, newest last (bounded). */
  lastIds: string[];
  /** Kafka timestamp of the latest event that added spend (not checkpointed: judging at close then reports none). */
  lastPublishedAt?: number;
  /** Spend by (model, operation, service): the root causes of a spike (absent in older checkpoints). */
  contrib?: Contribution[];
}

export type PersonaSlot = 'cost_spike' | 'efficiency_drop' | 'negative_roi' | 'budget_threshold:daily' | 'budget_threshold:monthly';

export interface PersonaState {
  personaId: string;
  /** Open windows, oldest first: usually one, two around a boundary within the allowed lateness. */
  open: OpenWindow[];
  /** Closed windows with spend, oldest first, at most baseline + 1 of them. */
  history: ClosedWindow[];
  /** Cohorts not yet mature, oldest first (about (horizon + period) / period of them). */
  cohorts: OpenCohort[];
  /** Mature cohorts too thin for a verdict, merged until enough posts reported. */
  carry: CohortSums | null;
  /** Judged cohorts, oldest first, at most ANOMALY_BASELINE_COHORTS: the efficiency baseline. */
  cohortHistory: CohortSums[];
  /** End of the latest cohort period judged: later costs for it open no new cohort. */
  judgedUntil: number;
  /** Median spend of the last baseline windows with spend (recomputed when a window closes). */
  spikeBaseline: bigint | null;
  spikeBaselineWindows: number;
  lastEventTime: number;
  dayStart: number;
  daySpend: bigint;
  monthStart: number;
  monthSpend: bigint;
  anomalies: Partial<Record<PersonaSlot, OpenAnomaly>>;
  /**
   * Budget anomalies resolved within their period (a raised budget), by `slot@periodStart`: a later
   * crossing in that period is the n-th reopening, a new anomaly with a new id. Absent until then.
   */
  budgetReopened?: Record<string, number>;
  /** Hour-of-week profile of window spend (seasonal baselines on), or null. */
  seasonal?: SeasonalState | null;
  /** Spend by contributor of the last closed window: the mix a spike's excess is measured against. */
  lastMix?: Contribution[];
}

/** A post not yet in a cohort (no cost seen yet), or one whose first cost came after its period was judged. */
export const NO_COHORT_YET = -1;
export const NO_COHORT = -2;

/** One post's running totals; outcomes are cumulative on the wire: the latest (by occurred_at) replaces the totals. */
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
  /** Start of the cohort period of the post's first cost, or NO_COHORT_YET / NO_COHORT. */
  cohort: number;
  /** occurred_at of the outcome the totals are from; 0 before any outcome. */
  outcomeAt: number;
  final: boolean;
}

export function newPersona(personaId: string): PersonaState {
  return {
    personaId,
    open: [],
    history: [],
    cohorts: [],
    carry: null,
    cohortHistory: [],
    judgedUntil: 0,
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
  const w: OpenWindow = { start, cost: 0n, lastIds: [], contrib: [] };
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

/** The open cohort starting at `start`, created in order if missing. */
export function cohortAt(p: PersonaState, start: number, periodMs: number): OpenCohort {
  let i = p.cohorts.length - 1;
  while (i >= 0 && p.cohorts[i].start > start) i--;
  if (i >= 0 && p.cohorts[i].start === start) return p.cohorts[i];
  const c: OpenCohort = { start, end: start + periodMs, posts: 0, cost: 0n, engagements: 0, follows: 0, revenue: 0n, allPosts: 0, finalPosts: 0 };
  p.cohorts.splice(i + 1, 0, c);
  return c;
}

export function findCohort(p: PersonaState, start: number): OpenCohort | undefined {
  for (let i = p.cohorts.length - 1; i >= 0; i--) {
    const c = p.cohorts[i];
    if (c.start === start) return c;
    if (c.start < start) return undefined;
  }
  return undefined;
}

/** `a` followed by `b`, as one period. */
export function mergeCohorts(a: CohortSums, b: CohortSums): CohortSums {
  return {
    start: a.start, end: b.end, posts: a.posts + b.posts, cost: a.cost + b.cost, engagements: a.engagements + b.engagements,
    follows: a.follows + b.follows, revenue: a.revenue + b.revenue,
  };
}

/** Opens, extends or escalates the anomaly in a persona's slot; what it emits goes to `out`. */
export function applyReport(persona: PersonaState, slot: PersonaSlot, r: Report, out: AnomalyRecord[]): void {
  const { anomaly, emitted } = report(persona.anomalies[slot], r);
  persona.anomalies[slot] = anomaly;
  if (emitted) out.push(emitted);
}
