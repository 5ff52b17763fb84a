import { CostEvent, PostOutcome } from '../../src/events';
import { BudgetDetector } from './detectors/budget-detector';
import { EfficiencyDetector } from './detectors/efficiency-detector';
import { PostCostDetector } from './detectors/post-cost-detector';
import { RoiDetector } from './detectors/roi-detector';
import { SpikeDetector } from './detectors/spike-detector';
import { OpenAnomaly, report, Report, resolve } from './lifecycle';
import {
  ClosedWindow, CohortSums, cohortAt, findCohort, medianSpend, mergeCohorts, newPersona, NO_COHORT, NO_COHORT_YET, OpenCohort, OpenWindow, PersonaSlot,
  PersonaState, PostState, utcDayStart, utcMonthEnd, utcMonthStart, windowAt,
} from './persona-state';
import { RecentIds } from './recent-ids';
import { AnomalySettings } from './settings';
import { PartitionSnapshot, takeSnapshot } from './snapshot';
import { AnomalyRecord, Finding } from './types';

/** Budgets and post targets, kept current from Postgres by the adapter. */
export interface ReferenceData {
  budget(personaId: string, period: 'daily' | 'monthly'): bigint | undefined;
  hasBudget(personaId: string): boolean;
  postTarget(personaId: string): bigint;
}

export type Input = 'cost' | 'outcome';

/** Event-time clock and state of one Kafka partition number (the same number on both input topics). */
export interface PartitionState {
  partition: number;
  /** Largest (skew-capped) event time seen on each input topic. */
  inputMax: Record<Input, number>;
  /** Inputs with a backlog (set by the adapter from the high watermarks). */
  lagging: Record<Input, boolean>;
  /** Event-time clock, never moving backwards. */
  clock: number;
  /** Wall time the clock was last advanced. */
  clockWall: number;
  personas: Map<string, PersonaState>;
  /** Cost event ids seen lately: a second arrival of one is not counted again. */
  recentIds: RecentIds;
}

export interface EngineStats {
  personas: number;
  posts: number;
  openWindows: number;
  openAnomalies: number;
  lateEvents: number;
  /** Cost events not counted because their event id was seen before. */
  duplicateEvents: number;
  /** Outcomes older (occurred_at) than the one already applied to their post. */
  staleOutcomes: number;
  /** Outcomes for a post whose cohort was already judged. */
  lateOutcomes: number;
  /** Cohorts judged, merged into the next (too few posts reported), or without any outcome. */
  cohorts: { judged: number; merged: number; thin: number; silent: number };
}

/**
 * The pure core of anomaly detection: per-persona tumbling windows in event time, per-post
 * running totals, the five detectors and the anomaly lifecycle. No I/O: callers feed decoded
 * events and wall-clock ticks and publish the records returned.
 *
 * Clock: a partition's event time is the largest event time seen, advanced by the wall time that
 * passed since (so a quiet partition's windows still close, while a replay of old events is
 * windowed by their own times). A window closes when that clock passes its end plus the allowed
 * lateness; events for closed windows still count for budgets and posts, not for windows.
 */
export class AnomalyEngine {
  readonly partitions = new Map<number, PartitionState>();
  /** All posts held, least recently touched first (Map order), across partitions. */
  readonly posts = new Map<string, PostState>();
  private lateEvents = 0;
  private duplicateEvents = 0;
  private staleOutcomes = 0;
  private lateOutcomes = 0;
  private readonly cohortCounts = { judged: 0, merged: 0, thin: 0, silent: 0 };
  private readonly spike: SpikeDetector;
  private readonly efficiency: EfficiencyDetector;
  private readonly roi: RoiDetector;
  private readonly budget: BudgetDetector;
  private readonly postCost: PostCostDetector;
  private readonly historyMax: number;

  constructor(readonly s: AnomalySettings, private readonly ref: ReferenceData, private readonly wallNow: () => number = Date.now) {
    this.spike = new SpikeDetector({ spike: s.spike, minBaselineNano: s.minBaselineNano, minSpendNano: s.minSpendNano, minBaselineWindows: s.minBaselineWindows });
    this.efficiency = new EfficiencyDetector({
      efficiency: s.efficiency, basis: s.efficiencyBasis, minBaselineNano: s.minBaselineNano, minSpendNano: s.minSpendNano,
      minBaselineCohorts: s.minBaselineCohorts, minPosts: s.cohortMinPosts, minActions: s.cohortMinActions, minBaselineActions: s.minBaselineActions,
    });
    this.roi = new RoiDetector({ roi: s.roi, minSpendNano: s.minSpendNano, minPosts: s.cohortMinPosts, minBaselineCohorts: s.minBaselineCohorts });
    this.budget = new BudgetDetector(s.budget);
    this.postCost = new PostCostDetector(s.post);
    this.historyMax = s.baselineWindows + 1;
  }

  partition(n: number): PartitionState {
    let p = this.partitions.get(n);
    if (!p) {
      p = {
        partition: n, inputMax: { cost: 0, outcome: 0 }, lagging: { cost: false, outcome: false }, clock: 0, clockWall: this.wallNow(), personas: new Map(),
        recentIds: new RecentIds(this.s.recentIdsPerPartition),
      };
      this.partitions.set(n, p);
    }
    return p;
  }

  /**
   * Advances the partition's event-time clock. While an input has a backlog the clock stands at
   * the slowest such input's largest event time (so outcomes are not late merely because costs
   * were read first, and a replay of old events is not mistaken for quiet). When both inputs
   * are caught up, the clock is the largest event time seen, running on with the wall clock, so
   * a quiet partition still closes its windows.
   */
  private advanceClock(p: PartitionState, wall: number): number {
    if (p.lagging.cost || p.lagging.outcome) {
      const slowest = Math.min(p.lagging.cost ? p.inputMax.cost : Infinity, p.lagging.outcome ? p.inputMax.outcome : Infinity);
      p.clock = Math.max(p.clock, slowest);
    } else {
      p.clock = Math.max(p.clock + Math.max(0, wall - p.clockWall), p.inputMax.cost, p.inputMax.outcome);
    }
    p.clockWall = wall;
    return p.clock;
  }

  /** The clock minus the allowed lateness: windows ending at or before it are closed. */
  watermark(p: PartitionState, wall = this.wallNow()): number {
    if (p.inputMax.cost === 0 && p.inputMax.outcome === 0) return 0;
    return this.advanceClock(p, wall) - this.s.allowedLatenessMs;
  }

  /** The adapter reports whether an input topic partition has messages not yet processed. */
  setLagging(n: number, input: Input, lagging: boolean): void {
    const p = this.partition(n);
    this.advanceClock(p, this.wallNow());
    p.lagging[input] = lagging;
  }

  private observeTime(p: PartitionState, input: Input, t: number, wall: number): number {
    const capped = Math.min(t, wall + this.s.maxClockSkewMs);
    if (capped > p.inputMax[input]) p.inputMax[input] = capped;
    return capped;
  }

  private persona(p: PartitionState, personaId: string): PersonaState {
    let persona = p.personas.get(personaId);
    if (!persona) {
      persona = newPersona(personaId);
      p.personas.set(personaId, persona);
    }
    return persona;
  }

  onCost(partition: number, e: CostEvent, publishedAt: number, out: AnomalyRecord[] = []): AnomalyRecord[] {
    const wall = this.wallNow();
    const p = this.partition(partition);
    // One count per event id, whatever its event time: a retry, a redelivery or a replay is the same event.
    if (!p.recentIds.add(e.event_id)) {
      this.duplicateEvents++;
      return out;
    }
    const t = this.observeTime(p, 'cost', e.event_time.getTime(), wall);
    const persona = this.persona(p, e.persona_id);
    persona.lastEventTime = Math.max(persona.lastEventTime, t);
    const wm = this.watermark(p, wall);
    this.closeWindows(persona, wm, wall, out);
    this.closeCohorts(persona, wm, wall, out);

    const ws = Math.floor(t / this.s.windowMs) * this.s.windowMs;
    if (ws + this.s.windowMs <= wm) {
      this.lateEvents++;
    } else {
      const w = windowAt(persona, ws);
      w.cost += e.amount;
      w.lastIds.push(e.event_id);
      if (w.lastIds.length > this.s.maxTriggeringIds) w.lastIds.shift();
      w.lastPublishedAt = publishedAt;
      if (e.amount > 0n) this.evaluateSpike(persona, w, publishedAt, wall, out);
    }
    this.addBudgetSpend(persona, t, e.amount);
    this.evaluateBudgets(persona, [e.event_id], publishedAt, wall, out);
    if (e.post_id) {
      const post = this.post(partition, persona.personaId, e.post_id, t);
      post.cost += e.amount;
      this.addPostCost(persona, post, t, e.amount, wm);
      this.evaluatePost(post, e.event_id, publishedAt, wall, out);
    }
    return out;
  }

  onOutcome(partition: number, o: PostOutcome, _publishedAt: number, out: AnomalyRecord[] = []): AnomalyRecord[] {
    const wall = this.wallNow();
    const p = this.partition(partition);
    const t = this.observeTime(p, 'outcome', o.occurred_at.getTime(), wall);
    const persona = this.persona(p, o.persona_id);
    persona.lastEventTime = Math.max(persona.lastEventTime, t);
    const wm = this.watermark(p, wall);
    this.closeWindows(persona, wm, wall, out);
    this.closeCohorts(persona, wm, wall, out);

    // Outcomes are cumulative per post: the latest replaces the post's totals (they may also fall).
    const post = this.post(partition, persona.personaId, o.post_id, t);
    if (post.outcomeAt > 0 && t < post.outcomeAt) {
      this.staleOutcomes++;
      return out;
    }
    const c = post.cohort >= 0 ? findCohort(persona, post.cohort) : undefined;
    if (c) {
      if (post.outcomeAt === 0) {
        c.posts++;
        c.cost += post.cost;
        c.engagements += o.engagements;
        c.follows += o.follows;
        c.revenue += o.revenue;
      } else {
        c.engagements += o.engagements - post.engagements;
        c.follows += o.follows - post.follows;
        c.revenue += o.revenue - post.revenue;
      }
      if (o.is_final === true && !post.final) c.finalPosts++;
    } else if (post.cohort !== NO_COHORT_YET) {
      this.lateOutcomes++;
    }
    post.engagements = o.engagements;
    post.follows = o.follows;
    post.revenue = o.revenue;
    post.outcomeAt = t;
    if (o.is_final === true) post.final = true;
    return out;
  }

  /** Wall-clock timer: closes windows of quiet partitions, resolves what cleared, evicts idle state. */
  tick(out: AnomalyRecord[] = []): AnomalyRecord[] {
    const wall = this.wallNow();
    for (const p of this.partitions.values()) {
      const wm = this.watermark(p, wall);
      for (const persona of p.personas.values()) {
        this.closeWindows(persona, wm, wall, out);
        this.closeCohorts(persona, wm, wall, out);
        this.resolveExpired(persona, wm, wall, out);
        if (this.evictable(persona, wm)) p.personas.delete(persona.personaId);
      }
    }
    this.evictPosts(wall, out);
    return out;
  }

  /** Budgets or targets changed: budget anomalies whose condition no longer holds are resolved, new ones reported. */
  onReferenceChanged(out: AnomalyRecord[] = []): AnomalyRecord[] {
    const wall = this.wallNow();
    for (const p of this.partitions.values()) {
      for (const persona of p.personas.values()) this.evaluateBudgets(persona, [], null, wall, out, true);
    }
    return out;
  }

  // ── windows ────────────────────────────────────────────────────────────────────────────────

  private closeWindows(persona: PersonaState, wm: number, wall: number, out: AnomalyRecord[]): void {
    while (persona.open.length > 0 && persona.open[0].start + this.s.windowMs <= wm) {
      const w = persona.open.shift()!;
      this.closeWindow(persona, w, wall, out);
    }
  }

  private closeWindow(persona: PersonaState, w: OpenWindow, wall: number, out: AnomalyRecord[]): void {
    if (w.cost <= 0n) return;
    // Spikes are judged on every cost event; judge the window once more as it closes, against the
    // baseline before it, in case its events were read while earlier windows were still open (the
    // watermark waits for the slower input while a backlog is read). Same severity emits nothing.
    this.evaluateSpike(persona, w, w.lastPublishedAt ?? null, wall, out);
    const closed: ClosedWindow = { start: w.start, cost: w.cost };
    const before = persona.history;
    before.push(closed);
    if (before.length > this.historyMax) before.splice(0, before.length - this.historyMax);
    const { median, windows } = medianSpend(before, this.s.baselineWindows);
    persona.spikeBaseline = median;
    persona.spikeBaselineWindows = windows;
  }

  // ── cohorts: efficiency and ROI ────────────────────────────────────────────────────────────

  /** A post's cost joins the cohort of the period of its first cost, while that cohort is still open. */
  private addPostCost(persona: PersonaState, post: PostState, t: number, amount: bigint, wm: number): void {
    if (post.cohort === NO_COHORT) return;
    if (post.cohort === NO_COHORT_YET) {
      const start = Math.floor(t / this.s.cohortMs) * this.s.cohortMs;
      if (start < persona.judgedUntil || start + this.s.cohortMs + this.s.outcomeHorizonMs <= wm) {
        post.cohort = NO_COHORT; // its period was judged already
        return;
      }
      const c = cohortAt(persona, start, this.s.cohortMs);
      post.cohort = start;
      c.allPosts++;
      if (post.final) c.finalPosts++;
      if (post.outcomeAt > 0) {
        c.posts++;
        c.cost += post.cost; // includes this amount
        c.engagements += post.engagements;
        c.follows += post.follows;
        c.revenue += post.revenue;
      }
      return;
    }
    if (post.outcomeAt > 0) {
      const c = findCohort(persona, post.cohort);
      if (c) c.cost += amount;
    }
  }

  /**
   * A cohort is mature once the horizon has passed since its period ended, or once its period has
   * ended and every post in it reported a final outcome. Mature cohorts are judged oldest first.
   */
  private closeCohorts(persona: PersonaState, wm: number, wall: number, out: AnomalyRecord[]): void {
    while (persona.cohorts.length > 0) {
      const c = persona.cohorts[0];
      const allFinal = c.allPosts > 0 && c.finalPosts === c.allPosts;
      if (!(wm >= c.end + this.s.outcomeHorizonMs || (allFinal && wm >= c.end))) return;
      persona.cohorts.shift();
      persona.judgedUntil = Math.max(persona.judgedUntil, c.end);
      this.judgeCohort(persona, c, wall, out);
    }
  }

  private judgeCohort(persona: PersonaState, c: OpenCohort, wall: number, out: AnomalyRecord[]): void {
    if (c.posts === 0) {
      this.cohortCounts.silent++; // nothing known about this period: no verdict either way
      return;
    }
    const own: CohortSums = { start: c.start, end: c.end, posts: c.posts, cost: c.cost, engagements: c.engagements, follows: c.follows, revenue: c.revenue };
    const cur = persona.carry ? mergeCohorts(persona.carry, own) : own;
    persona.carry = null;
    if (cur.posts < this.s.cohortMinPosts) {
      // Too few posts reported: merged into the next cohort, up to the baseline's span.
      if (cur.end - cur.start < this.s.baselineCohorts * this.s.cohortMs) {
        persona.carry = cur;
        this.cohortCounts.merged++;
      } else {
        this.cohortCounts.thin++;
        this.pushCohort(persona, cur);
      }
      return;
    }
    this.cohortCounts.judged++;
    let bCost = 0n;
    let bActions = 0;
    let bPosts = 0;
    const history = persona.cohortHistory;
    for (const h of history) {
      bCost += h.cost;
      bActions += this.actions(h);
      bPosts += h.posts;
    }
    const eff = this.efficiency.evaluate({
      cost: cur.cost, actions: this.actions(cur), posts: cur.posts, baselineCost: bCost, baselineActions: bActions, baselinePosts: bPosts, baselineCohorts: history.length,
    });
    this.cohortVerdict(persona, 'efficiency_drop', eff, cur, wall, out);
    const roi = this.roi.evaluate({ cost: cur.cost, revenue: cur.revenue, posts: cur.posts, baselinePosts: bPosts, baselineCohorts: history.length });
    this.cohortVerdict(persona, 'negative_roi', roi, cur, wall, out);
    this.pushCohort(persona, cur);
  }

  private pushCohort(persona: PersonaState, c: CohortSums): void {
    persona.cohortHistory.push(c);
    if (persona.cohortHistory.length > this.s.baselineCohorts) persona.cohortHistory.shift();
  }

  private actions(w: { engagements: number; follows: number }): number {
    return this.s.efficiencyBasis === 'follows' ? w.follows : w.engagements;
  }

  /** Cohort detectors: a finding opens or extends; a later clean cohort resolves. */
  private cohortVerdict(persona: PersonaState, slot: PersonaSlot, finding: Finding | null, c: CohortSums, wall: number, out: AnomalyRecord[]): void {
    const open = persona.anomalies[slot];
    if (finding) {
      this.apply(persona, slot, open, {
        personaId: persona.personaId, slot, windowKey: c.start, windowStart: c.start, windowEnd: c.end,
        postId: null, finding, triggeringIds: [], triggerPublishedAt: null, now: wall,
      }, out);
    } else if (open && c.start > open.lastWindowStart) {
      out.push(resolve(open, persona.personaId, wall, 'a later cohort is back within the threshold'));
      delete persona.anomalies[slot];
    }
  }

  private evaluateSpike(persona: PersonaState, w: OpenWindow, publishedAt: number | null, wall: number, out: AnomalyRecord[]): void {
    const finding = this.spike.evaluate({ spend: w.cost, baseline: persona.spikeBaseline, baselineWindows: persona.spikeBaselineWindows });
    if (!finding) return;
    this.apply(persona, 'cost_spike', persona.anomalies.cost_spike, {
      personaId: persona.personaId, slot: 'cost_spike', windowKey: w.start, windowStart: w.start, windowEnd: w.start + this.s.windowMs,
      postId: null, finding, triggeringIds: [...w.lastIds].reverse(), triggerPublishedAt: publishedAt, now: wall,
    }, out);
  }

  private apply(persona: PersonaState, slot: PersonaSlot, open: OpenAnomaly | undefined, r: Report, out: AnomalyRecord[]): void {
    const { anomaly, emitted } = report(open, r);
    persona.anomalies[slot] = anomaly;
    if (emitted) out.push(emitted);
  }

  /** A spike clears when the window after the last one that spiked has closed without spiking. */
  private resolveExpired(persona: PersonaState, wm: number, wall: number, out: AnomalyRecord[]): void {
    const spike = persona.anomalies.cost_spike;
    if (spike && wm >= spike.lastWindowStart + 2 * this.s.windowMs) {
      out.push(resolve(spike, persona.personaId, wall, 'the next window closed below the spike threshold'));
      delete persona.anomalies.cost_spike;
    }
    for (const slot of ['budget_threshold:daily', 'budget_threshold:monthly'] as const) {
      const b = persona.anomalies[slot];
      if (b && wm >= b.windowEnd) {
        out.push(resolve(b, persona.personaId, wall, 'the budget period ended'));
        delete persona.anomalies[slot];
      }
    }
  }

  private evictable(persona: PersonaState, wm: number): boolean {
    if (persona.open.length > 0 || persona.cohorts.length > 0 || wm - persona.lastEventTime < this.s.personaIdleMs) return false;
    // Budgeted personas keep their period spend; their number is bounded by the budgets table.
    if (this.ref.hasBudget(persona.personaId)) return false;
    return Object.keys(persona.anomalies).length === 0;
  }

  // ── budgets ────────────────────────────────────────────────────────────────────────────────

  private addBudgetSpend(persona: PersonaState, t: number, amount: bigint): void {
    const day = utcDayStart(t);
    if (day > persona.dayStart) {
      persona.dayStart = day;
      persona.daySpend = 0n;
    }
    if (day === persona.dayStart) persona.daySpend += amount;
    const month = utcMonthStart(t);
    if (month > persona.monthStart) {
      persona.monthStart = month;
      persona.monthSpend = 0n;
    }
    if (month === persona.monthStart) persona.monthSpend += amount;
  }

  private evaluateBudgets(persona: PersonaState, ids: string[], publishedAt: number | null, wall: number, out: AnomalyRecord[], mayResolve = false): void {
    for (const period of ['daily', 'monthly'] as const) {
      const slot = `budget_threshold:${period}` as const;
      const limit = this.ref.budget(persona.personaId, period);
      const open = persona.anomalies[slot];
      const spend = period === 'daily' ? persona.daySpend : persona.monthSpend;
      const start = period === 'daily' ? persona.dayStart : persona.monthStart;
      if (start === 0) continue;
      const finding = limit === undefined ? null : this.budget.evaluate({ period, spend, limit });
      if (finding) {
        // A new period is a new anomaly: the old one is resolved by the period end (resolveExpired).
        if (open && open.windowStart !== start) continue;
        const end = period === 'daily' ? start + 86_400_000 : utcMonthEnd(start);
        this.apply(persona, slot, open, {
          personaId: persona.personaId, slot, windowKey: start, windowStart: start, windowEnd: end,
          postId: null, finding, triggeringIds: ids, triggerPublishedAt: publishedAt, now: wall,
        }, out);
      } else if (open && mayResolve && open.windowStart === start) {
        out.push(resolve(open, persona.personaId, wall, 'the budget was raised or removed'));
        delete persona.anomalies[slot];
      }
    }
  }

  // ── posts ──────────────────────────────────────────────────────────────────────────────────

  private post(partition: number, personaId: string, postId: string, t: number): PostState {
    // Keyed by the post id alone (post ids are unique across personas, as in post_costs); the rare
    // id reused by another persona gets a persona-qualified key, so it never shares totals.
    let key = postId;
    let post = this.posts.get(key);
    if (post && post.personaId !== personaId) {
      key = `${personaId}\u0000${postId}`;
      post = this.posts.get(key);
    }
    if (post) {
      this.posts.delete(key); // re-insert: Map order is least recently touched first
    } else {
      post = {
        key, postId, personaId, partition, cost: 0n, engagements: 0, follows: 0, revenue: 0n, firstEventTime: t, lastEventTime: t, anomaly: null,
        cohort: NO_COHORT_YET, outcomeAt: 0, final: false,
      };
    }
    if (t > post.lastEventTime) post.lastEventTime = t;
    if (t < post.firstEventTime) post.firstEventTime = t;
    this.posts.set(key, post);
    return post;
  }

  private evaluatePost(post: PostState, eventId: string, publishedAt: number, wall: number, out: AnomalyRecord[]): void {
    const finding = this.postCost.evaluate({ postId: post.postId, cost: post.cost, target: this.ref.postTarget(post.personaId) });
    if (!finding) return;
    const { anomaly, emitted } = report(post.anomaly ?? undefined, {
      personaId: post.personaId, slot: 'post_cost_threshold', windowKey: post.postId, windowStart: post.firstEventTime, windowEnd: post.lastEventTime,
      postId: post.postId, finding, triggeringIds: [eventId], triggerPublishedAt: publishedAt, now: wall,
    });
    post.anomaly = anomaly;
    if (emitted) out.push(emitted);
  }

  /**
   * Idle posts go once their cohort is judged (a flagged one is resolved: it has stopped spending);
   * beyond the bound, the least recent go, whose cohort keeps what they brought so far.
   */
  private evictPosts(wall: number, out: AnomalyRecord[]): void {
    for (const post of this.posts.values()) {
      const p = this.partitions.get(post.partition);
      const wm = p ? this.watermark(p, wall) : Infinity;
      const idle = wm - post.lastEventTime >= this.s.postIdleMs && (post.cohort < 0 || wm >= post.cohort + this.s.cohortMs + this.s.outcomeHorizonMs);
      if (!idle && this.posts.size <= this.s.maxPosts) break;
      this.evictPost(post, wall, out, idle ? 'the post has stopped spending' : 'evicted to bound memory');
    }
  }

  private evictPost(post: PostState, wall: number, out: AnomalyRecord[], reason: string): void {
    if (post.anomaly) {
      post.anomaly.windowEnd = post.lastEventTime;
      out.push(resolve(post.anomaly, post.personaId, wall, reason));
    }
    this.posts.delete(post.key);
  }

  /** Loads a checkpointed partition; its clock resumes from the wall time of the restore. */
  restorePartition(snap: PartitionSnapshot): void {
    this.dropPartition(snap.partition);
    const p: PartitionState = {
      partition: snap.partition, inputMax: { ...snap.inputMax }, lagging: { cost: false, outcome: false }, clock: snap.clock, clockWall: this.wallNow(), personas: new Map(),
      recentIds: RecentIds.restore(this.s.recentIdsPerPartition, snap.recentIds),
    };
    for (const persona of snap.personas) {
      // Checkpoints written before cohorts existed hold no cohort state.
      persona.cohorts ??= [];
      persona.carry ??= null;
      persona.cohortHistory ??= [];
      persona.judgedUntil ??= 0;
      p.personas.set(persona.personaId, persona);
    }
    this.partitions.set(snap.partition, p);
    for (const post of snap.posts) {
      this.posts.delete(post.key);
      this.posts.set(post.key, post);
    }
  }

  snapshot(n: number): PartitionSnapshot {
    return takeSnapshot(this.partition(n), this.posts.values());
  }

  /** Drops the state of a partition this instance no longer owns (its new owner restores it). */
  dropPartition(n: number): void {
    this.partitions.delete(n);
    for (const post of this.posts.values()) if (post.partition === n) this.posts.delete(post.key);
  }

  stats(): EngineStats {
    let personas = 0;
    let openWindows = 0;
    let openAnomalies = 0;
    for (const p of this.partitions.values()) {
      personas += p.personas.size;
      for (const persona of p.personas.values()) {
        openWindows += persona.open.length;
        openAnomalies += Object.keys(persona.anomalies).length;
      }
    }
    for (const post of this.posts.values()) if (post.anomaly) openAnomalies++;
    return {
      personas, posts: this.posts.size, openWindows, openAnomalies, lateEvents: this.lateEvents, duplicateEvents: this.duplicateEvents,
      staleOutcomes: this.staleOutcomes, lateOutcomes: this.lateOutcomes, cohorts: { ...this.cohortCounts },
    };
  }
}
