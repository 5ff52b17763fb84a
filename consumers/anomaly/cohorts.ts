import { EfficiencyDetector } from './detectors/efficiency-detector';
import { RoiDetector } from './detectors/roi-detector';
import { resolve } from './lifecycle';
import {
  applyReport, CohortSums, cohortAt, findCohort, mergeCohorts, NO_COHORT, NO_COHORT_YET, OpenCohort, PersonaSlot, PersonaState, PostState,
} from './persona-state';
import { AnomalySettings } from './settings';
import { AnomalyRecord, Finding } from './types';

export interface CohortCounts {
  judged: number;
  merged: number;
  thin: number;
  silent: number;
}

/** Cohorts of posts by the period of their first cost, judged for efficiency and ROI once mature. */
export class Cohorts {
  readonly counts: CohortCounts = { judged: 0, merged: 0, thin: 0, silent: 0 };
  private readonly efficiency: EfficiencyDetector;
  private readonly roi: RoiDetector;

  constructor(private readonly s: AnomalySettings) {
    this.efficiency = new EfficiencyDetector({
      efficiency: s.efficiency, basis: s.efficiencyBasis, minBaselineNano: s.minBaselineNano, minSpendNano: s.minSpendNano,
      minBaselineCohorts: s.minBaselineCohorts, minPosts: s.cohortMinPosts, minActions: s.cohortMinActions, minBaselineActions: s.minBaselineActions,
    });
    this.roi = new RoiDetector({ roi: s.roi, minSpendNano: s.minSpendNano, minPosts: s.cohortMinPosts, minBaselineCohorts: s.minBaselineCohorts });
  }

  /** A post's cost joins the cohort of the period of its first cost, while that cohort is still open. */
  addPostCost(persona: PersonaState, post: PostState, t: number, amount: bigint, wm: number): void {
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
  close(persona: PersonaState, wm: number, wall: number, out: AnomalyRecord[]): void {
    while (persona.cohorts.length > 0) {
      const c = persona.cohorts[0];
      const allFinal = c.allPosts > 0 && c.finalPosts === c.allPosts;
      if (!(wm >= c.end + this.s.outcomeHorizonMs || (allFinal && wm >= c.end))) return;
      persona.cohorts.shift();
      persona.judgedUntil = Math.max(persona.judgedUntil, c.end);
      this.judge(persona, c, wall, out);
    }
  }

  private judge(persona: PersonaState, c: OpenCohort, wall: number, out: AnomalyRecord[]): void {
    if (c.posts === 0) {
      this.counts.silent++; // nothing known about this period: no verdict either way
      return;
    }
    const own: CohortSums = { start: c.start, end: c.end, posts: c.posts, cost: c.cost, engagements: c.engagements, follows: c.follows, revenue: c.revenue };
    const cur = persona.carry ? mergeCohorts(persona.carry, own) : own;
    persona.carry = null;
    if (cur.posts < this.s.cohortMinPosts) {
      // Too few posts reported: merged into the next cohort, up to the baseline's span.
      if (cur.end - cur.start < this.s.baselineCohorts * this.s.cohortMs) {
        persona.carry = cur;
        this.counts.merged++;
      } else {
        this.counts.thin++;
        this.push(persona, cur);
      }
      return;
    }
    this.counts.judged++;
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
    this.verdict(persona, 'efficiency_drop', eff, cur, wall, out);
    const roi = this.roi.evaluate({ cost: cur.cost, revenue: cur.revenue, posts: cur.posts, baselinePosts: bPosts, baselineCohorts: history.length });
    this.verdict(persona, 'negative_roi', roi, cur, wall, out);
    this.push(persona, cur);
  }

  private push(persona: PersonaState, c: CohortSums): void {
    persona.cohortHistory.push(c);
    if (persona.cohortHistory.length > this.s.baselineCohorts) persona.cohortHistory.shift();
  }

  private actions(w: { engagements: number; follows: number }): number {
    return this.s.efficiencyBasis === 'follows' ? w.follows : w.engagements;
  }

  /** Cohort detectors: a finding opens or extends; a later clean cohort resolves. */
  private verdict(persona: PersonaState, slot: PersonaSlot, finding: Finding | null, c: CohortSums, wall: number, out: AnomalyRecord[]): void {
    const open = persona.anomalies[slot];
    if (finding) {
      applyReport(persona, slot, {
        personaId: persona.personaId, slot, windowKey: c.start, windowStart: c.start, windowEnd: c.end,
        postId: null, finding, triggeringIds: [], triggerPublishedAt: null, now: wall,
      }, out);
    } else if (open && c.start > open.lastWindowStart) {
      out.push(resolve(open, persona.personaId, wall, 'a later cohort is back within the threshold'));
      delete persona.anomalies[slot];
    }
  }
}
