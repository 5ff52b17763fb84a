import { CostEvent, PostOutcome } from '../../src/events';
import { BudgetDetector } from './detectors/budget-detector';
import { EfficiencyDetector } from './detectors/efficiency-detector';
import { PostCostDetector } from './detectors/post-cost-detector';
import { RoiDetector } from './detectors/roi-detector';
import { SpikeDetector } from './detectors/spike-detector';
import { OpenAnomaly, report, Report, resolve } from './lifecycle';
import {
  ClosedWindow, medianSpend, newPersona, OpenWindow, PersonaSlot, PersonaState, PostState, utcDayStart, utcMonthEnd, utcMonthStart, windowAt,
} from './persona-state';
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
}

export interface EngineStats {
  personas: number;
  posts: number;
  openWindows: number;
  openAnomalies: number;
  lateEvents: number;
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
      minBaselineWindows: s.minBaselineWindows, minBaselineActions: s.minBaselineActions,
    });
    this.roi = new RoiDetector({ roi: s.roi, minSpendNano: s.minSpendNano });
    this.budget = new BudgetDetector(s.budget);
    this.postCost = new PostCostDetector(s.post);
    this.historyMax = Math.max(s.baselineWindows + 1, s.roiWindows);
  }

  partition(n: number): PartitionState {
    let p = this.partitions.get(n);
    if (!p) {
      p = { partition: n, inputMax: { cost: 0, outcome: 0 }, lagging: { cost: false, outcome: false }, clock: 0, clockWall: this.wallNow(), personas: new Map() };
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
    const t = this.observeTime(p, 'cost', e.event_time.getTime(), wall);
    const persona = this.persona(p, e.persona_id);
    persona.lastEventTime = Math.max(persona.lastEventTime, t);
    const wm = this.watermark(p, wall);
    this.closeWindows(persona, wm, wall, out);

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

    // Outcomes are cumulative per post: what is new is the rise over the largest seen before.
    const post = this.post(partition, persona.personaId, o.post_id, t);
    const dEng = Math.max(0, o.engagements - post.engagements);
    const dFol = Math.max(0, o.follows - post.follows);
    const dRev = o.revenue > post.revenue ? o.revenue - post.revenue : 0n;
    post.engagements += dEng;
    post.follows += dFol;
    post.revenue += dRev;

    const ws = Math.floor(t / this.s.windowMs) * this.s.windowMs;
    if (ws + this.s.windowMs <= wm) {
      this.lateEvents++;
      return out;
    }
    const w = windowAt(persona, ws);
    w.engagements += dEng;
    w.follows += dFol;
    w.revenue += dRev;
    w.outcomes += 1;
    return out;
  }

  /** Wall-clock timer: closes windows of quiet partitions, resolves what cleared, evicts idle state. */
  tick(out: AnomalyRecord[] = []): AnomalyRecord[] {
    const wall = this.wallNow();
    for (const p of this.partitions.values()) {
      const wm = this.watermark(p, wall);
      for (const persona of p.personas.values()) {
        this.closeWindows(persona, wm, wall, out);
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
    const active = w.cost > 0n || w.outcomes > 0;
    if (!active) return;
    // Spikes are judged on every cost event; judge the window once more as it closes, against the
    // baseline before it, in case its events were read while earlier windows were still open (the
    // watermark waits for the slower input while a backlog is read). Same severity emits nothing.
    if (w.cost > 0n) this.evaluateSpike(persona, w, w.lastPublishedAt ?? null, wall, out);
    const closed: ClosedWindow = { start: w.start, cost: w.cost, engagements: w.engagements, follows: w.follows, revenue: w.revenue, outcomes: w.outcomes };
    const before = persona.history;
    // Efficiency: this window against the sums of the baseline windows before it.
    let bCost = 0n;
    let bActions = 0;
    let bWindows = 0;
    for (let i = before.length - 1; i >= 0 && bWindows < this.s.baselineWindows; i--) {
      const h = before[i];
      if (h.cost <= 0n) continue;
      bCost += h.cost;
      bActions += this.actions(h);
      bWindows++;
    }
    const eff = this.efficiency.evaluate({ cost: w.cost, actions: this.actions(w), baselineCost: bCost, baselineActions: bActions, baselineWindows: bWindows });
    this.windowedVerdict(persona, 'efficiency_drop', eff, w, w.lastIds, wall, out);

    before.push(closed);
    if (before.length > this.historyMax) before.splice(0, before.length - this.historyMax);
    const { median, windows } = medianSpend(before, this.s.baselineWindows);
    persona.spikeBaseline = median;
    persona.spikeBaselineWindows = windows;

    let rCost = 0n;
    let rRevenue = 0n;
    let rOutcomes = 0;
    const from = Math.max(0, before.length - this.s.roiWindows);
    for (let i = from; i < before.length; i++) {
      rCost += before[i].cost;
      rRevenue += before[i].revenue;
      rOutcomes += before[i].outcomes;
    }
    const roi = this.roi.evaluate({ cost: rCost, revenue: rRevenue, outcomes: rOutcomes, windows: before.length - from });
    this.windowedVerdict(persona, 'negative_roi', roi, w, w.lastIds, wall, out);
  }

  private actions(w: { engagements: number; follows: number }): number {
    return this.s.efficiencyBasis === 'follows' ? w.follows : w.engagements;
  }

  /** Window-close detectors: a finding opens or extends; a later clean window resolves. */
  private windowedVerdict(persona: PersonaState, slot: PersonaSlot, finding: Finding | null, w: OpenWindow, ids: string[], wall: number, out: AnomalyRecord[]): void {
    const open = persona.anomalies[slot];
    if (finding) {
      this.apply(persona, slot, open, {
        personaId: persona.personaId, slot, windowKey: w.start, windowStart: w.start, windowEnd: w.start + this.s.windowMs,
        postId: null, finding, triggeringIds: [...ids], triggerPublishedAt: null, now: wall,
      }, out);
    } else if (open && w.start > open.lastWindowStart) {
      out.push(resolve(open, persona.personaId, wall, 'a later window is back within the threshold'));
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
    if (persona.open.length > 0 || wm - persona.lastEventTime < this.s.personaIdleMs) return false;
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
      post = { key, postId, personaId, partition, cost: 0n, engagements: 0, follows: 0, revenue: 0n, firstEventTime: t, lastEventTime: t, anomaly: null };
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

  /** Idle posts go (a flagged one is resolved: it has stopped spending); beyond the bound, the least recent go. */
  private evictPosts(wall: number, out: AnomalyRecord[]): void {
    for (const post of this.posts.values()) {
      const p = this.partitions.get(post.partition);
      const idle = !p || this.watermark(p, wall) - post.lastEventTime >= this.s.postIdleMs;
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
    };
    for (const persona of snap.personas) p.personas.set(persona.personaId, persona);
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
    return { personas, posts: this.posts.size, openWindows, openAnomalies, lateEvents: this.lateEvents };
  }
}
