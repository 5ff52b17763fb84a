import { CostEvent, PostOutcome } from '../../src/events';
import { Budgets, ReferenceData } from './budgets';
import { advanceClock, Input, newPartition, observeTime, PartitionState, watermark } from './clock';
import { CohortCounts, Cohorts } from './cohorts';
import { findCohort, newPersona, NO_COHORT_YET, PersonaState, PostState } from './persona-state';
import { Posts } from './posts';
import { RecentIds } from './recent-ids';
import { ScopedBudgets, ScopedBudgetView } from './scoped-budgets';
import { AnomalySettings } from './settings';
import { PartitionSnapshot, takeSnapshot } from './snapshot';
import { AnomalyRecord } from './types';
import { Windows } from './windows';

export type { ReferenceData } from './budgets';
export type { Input, PartitionState } from './clock';

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
  cohorts: CohortCounts;
}

/**
 * The pure core of anomaly detection. No I/O: callers feed decoded events and wall-clock ticks
 * and publish the records returned. It routes each input to its parts: the partition clock
 * (clock.ts), per-persona windows and spikes (windows.ts), cohorts (cohorts.ts), budgets
 * (budgets.ts) and posts (posts.ts), and holds the per-partition state they work on.
 *
 * Clock: a partition's event time is the largest event time seen, advanced by the wall time that
 * passed since (so a quiet partition's windows still close, while a replay of old events is
 * windowed by their own times). A window closes when that clock passes its end plus the allowed
 * lateness; events for closed windows still count for budgets and posts, not for windows.
 */
export class AnomalyEngine {
  readonly partitions = new Map<number, PartitionState>();
  private readonly postBook: Posts;
  private readonly windows: Windows;
  private readonly cohorts: Cohorts;
  private readonly budgets: Budgets;
  private readonly scoped: ScopedBudgets;
  private lateEvents = 0;
  private duplicateEvents = 0;
  private staleOutcomes = 0;
  private lateOutcomes = 0;

  constructor(readonly s: AnomalySettings, ref: ReferenceData, private readonly wallNow: () => number = Date.now) {
    this.postBook = new Posts(s, (personaId) => ref.postTarget(personaId));
    this.windows = new Windows(s, (personaId) => ref.seasonalFor?.(personaId));
    this.cohorts = new Cohorts(s);
    this.budgets = new Budgets(s, ref);
    this.scoped = new ScopedBudgets(s, {
      scopedBudgets: (key) => ref.scopedBudgets?.(key),
      hasScopedBudgets: () => ref.hasScopedBudgets?.() ?? false,
      teamOf: (personaId) => ref.teamOf?.(personaId),
      personaScopeBudgets: ref.personaScopeBudgets ? (personaId) => ref.personaScopeBudgets!(personaId) : undefined,
      hasScopedKind: ref.hasScopedKind ? (kind) => ref.hasScopedKind!(kind) : undefined,
    });
  }

  /** All posts held, least recently touched first (Map order), across partitions. */
  get posts(): Map<string, PostState> {
    return this.postBook.byKey;
  }

  partition(n: number): PartitionState {
    let p = this.partitions.get(n);
    if (!p) {
      p = newPartition(n, this.wallNow(), new RecentIds(this.s.recentIdsPerPartition));
      this.partitions.set(n, p);
    }
    return p;
  }

  /** The clock minus the allowed lateness: windows ending at or before it are closed. */
  watermark(p: PartitionState, wall = this.wallNow()): number {
    return watermark(p, wall, this.s.allowedLatenessMs);
  }

  /** The adapter reports whether an input topic partition has messages not yet processed. */
  setLagging(n: number, input: Input, lagging: boolean): void {
    const p = this.partition(n);
    advanceClock(p, this.wallNow());
    p.lagging[input] = lagging;
  }

  private persona(p: PartitionState, personaId: string): PersonaState {
    let persona = p.personas.get(personaId);
    if (!persona) {
      persona = newPersona(personaId);
      p.personas.set(personaId, persona);
    }
    return persona;
  }

  /** The persona of an input, with everything its watermark has matured closed first. */
  private arrive(p: PartitionState, personaId: string, t: number, wall: number, out: AnomalyRecord[]): { persona: PersonaState; wm: number } {
    const persona = this.persona(p, personaId);
    persona.lastEventTime = Math.max(persona.lastEventTime, t);
    const wm = this.watermark(p, wall);
    this.windows.close(persona, wm, wall, out);
    this.cohorts.close(persona, wm, wall, out);
    // What expired resolves on the persona's next input too, not only on the wall-clock tick: a
    // backlog read faster than the tick would otherwise fold a later spike into an earlier one.
    this.windows.resolveExpired(persona, wm, wall, out);
    this.budgets.resolveExpired(persona, wm, wall, out);
    return { persona, wm };
  }

  onCost(partition: number, e: CostEvent, publishedAt: number, out: AnomalyRecord[] = []): AnomalyRecord[] {
    const wall = this.wallNow();
    const p = this.partition(partition);
    // One count per event id, whatever its event time: a retry, a redelivery or a replay is the same event.
    if (!p.recentIds.add(e.event_id)) {
      this.duplicateEvents++;
      return out;
    }
    const t = observeTime(p, 'cost', e.event_time.getTime(), wall, this.s.maxClockSkewMs);
    const { persona, wm } = this.arrive(p, e.persona_id, t, wall, out);
    if (!this.windows.add(persona, e, t, wm, publishedAt, wall, out)) this.lateEvents++;
    this.budgets.addSpend(persona, t, e.amount);
    this.budgets.evaluate(persona, [e.event_id], publishedAt, wall, out);
    this.scoped.onCost(partition, e, t, publishedAt, wall, out);
    if (e.post_id) {
      const post = this.postBook.touch(partition, persona.personaId, e.post_id, t);
      post.cost += e.amount;
      this.cohorts.addPostCost(persona, post, t, e.amount, wm);
      this.postBook.evaluate(post, e.event_id, publishedAt, wall, out);
    }
    return out;
  }

  onOutcome(partition: number, o: PostOutcome, _publishedAt: number, out: AnomalyRecord[] = []): AnomalyRecord[] {
    const wall = this.wallNow();
    const p = this.partition(partition);
    const t = observeTime(p, 'outcome', o.occurred_at.getTime(), wall, this.s.maxClockSkewMs);
    const { persona } = this.arrive(p, o.persona_id, t, wall, out);

    // Outcomes are cumulative per post: the latest replaces the post's totals (they may also fall).
    const post = this.postBook.touch(partition, persona.personaId, o.post_id, t);
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
    let clock = 0;
    for (const p of this.partitions.values()) {
      const wm = this.watermark(p, wall);
      clock = Math.max(clock, wm);
      for (const persona of p.personas.values()) {
        this.windows.close(persona, wm, wall, out);
        this.cohorts.close(persona, wm, wall, out);
        this.windows.resolveExpired(persona, wm, wall, out);
        this.budgets.resolveExpired(persona, wm, wall, out);
        if (this.evictable(persona, wm)) p.personas.delete(persona.personaId);
      }
    }
    if (clock > 0) this.scoped.tick(clock, wall, out);
    this.postBook.evict((n) => {
      const p = this.partitions.get(n);
      return p ? this.watermark(p, wall) : Infinity;
    }, wall, out);
    return out;
  }

  /** Budgets or targets changed: budget anomalies whose condition no longer holds are resolved, new ones reported. */
  onReferenceChanged(out: AnomalyRecord[] = []): AnomalyRecord[] {
    const wall = this.wallNow();
    for (const p of this.partitions.values()) {
      for (const persona of p.personas.values()) this.budgets.evaluate(persona, [], null, wall, out, true);
    }
    this.scoped.onReferenceChanged(wall, out);
    return out;
  }

  private evictable(persona: PersonaState, wm: number): boolean {
    if (persona.open.length > 0 || persona.cohorts.length > 0 || wm - persona.lastEventTime < this.s.personaIdleMs) return false;
    if (this.budgets.holdsState(persona.personaId)) return false;
    return Object.keys(persona.anomalies).length === 0;
  }

  /** Loads a checkpointed partition; its clock resumes from the wall time of the restore. */
  restorePartition(snap: PartitionSnapshot): void {
    this.dropPartition(snap.partition);
    const p = newPartition(snap.partition, this.wallNow(), RecentIds.restore(this.s.recentIdsPerPartition, snap.recentIds));
    p.inputMax = { ...snap.inputMax };
    p.clock = snap.clock;
    for (const persona of snap.personas) {
      // Checkpoints written before cohorts existed hold no cohort state.
      persona.cohorts ??= [];
      persona.carry ??= null;
      persona.cohortHistory ??= [];
      persona.judgedUntil ??= 0;
      persona.lastMix ??= [];
      p.personas.set(persona.personaId, persona);
    }
    this.partitions.set(snap.partition, p);
    this.postBook.restore(snap.posts);
    if (snap.scoped) this.scoped.restore(snap.partition, snap.scoped);
  }

  /** `scopedBudgets`: ids of the scoped budgets whose spend before this partition's offsets the engine holds. */
  snapshot(n: number, scopedBudgets: string[] = []): PartitionSnapshot {
    return { ...takeSnapshot(this.partition(n), this.postBook.byKey.values()), scoped: this.scoped.snapshot(n, scopedBudgets) };
  }

  /** Drops the state of a partition this instance no longer owns (its new owner restores it). */
  dropPartition(n: number): void {
    this.partitions.delete(n);
    this.postBook.dropPartition(n);
    this.scoped.dropPartition(n);
  }

  /** Spend already in the ledger for a partition's scoped budget (see ScopedBudgets.seed). */
  seedScopedSpend(partition: number, budget: Parameters<ScopedBudgets['seed']>[1], periodStart: number, amount: bigint): void {
    this.scoped.seed(partition, budget, periodStart, amount);
  }

  /** Scoped budgets with their spend and forecast, for the status table behind GET /budgets. */
  scopedBudgets(): ScopedBudgetView[] {
    return this.scoped.views();
  }

  stats(): EngineStats {
    let personas = 0;
    let openWindows = 0;
    let openAnomalies = this.postBook.openAnomalies() + this.scoped.openAnomalies();
    for (const p of this.partitions.values()) {
      personas += p.personas.size;
      for (const persona of p.personas.values()) {
        openWindows += persona.open.length;
        openAnomalies += Object.keys(persona.anomalies).length;
      }
    }
    return {
      personas, posts: this.postBook.size, openWindows, openAnomalies, lateEvents: this.lateEvents, duplicateEvents: this.duplicateEvents,
      staleOutcomes: this.staleOutcomes, lateOutcomes: this.lateOutcomes, cohorts: { ...this.cohorts.counts },
    };
  }
}
