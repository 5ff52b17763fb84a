import { formatUsd, ratio } from '../../../src/money';
import { decimalText, divideAmount, oneMinus, percentToFraction, quotientText, ratioAtMost, usdPer } from '../exact';
import { Graded } from '../settings';
import { Finding } from '../types';
import { grade } from './severity';

export interface EfficiencyInput {
  /** The mature cohort: cost of its posts that reported outcomes, the engagements (or follows) they earned, how many posts. */
  cost: bigint;
  actions: number;
  posts: number;
  /** Sums over the earlier cohorts of the baseline. */
  baselineCost: bigint;
  baselineActions: number;
  baselinePosts: number;
  baselineCohorts: number;
}

export interface EfficiencyConfig {
  /** Drop percentages. */
  efficiency: Graded;
  basis: 'engagements' | 'follows';
  minBaselineNano: bigint;
  minSpendNano: bigint;
  minBaselineCohorts: number;
  /** Posts with outcomes, in the cohort and in the baseline. */
  minPosts: number;
  /** Actions in the cohort, and in the baseline. */
  minActions: number;
  minBaselineActions: number;
}

/**
 * Efficiency is outcomes per USD (engagements or follows) of a cohort of mature posts. A drop of
 * D % against the baseline (ratio of the earlier cohorts' sums) means cost per outcome rose to
 * baseline / (1 − D). No verdict without evidence: enough posts and actions on both sides.
 * drop ≥ D  ⇔  (a·cb) / (c·ab) ≤ 1 − D, compared exactly in integers.
 */
export class EfficiencyDetector {
  constructor(private readonly c: EfficiencyConfig) {}

  evaluate(i: EfficiencyInput): Finding | null {
    if (i.baselineCohorts < this.c.minBaselineCohorts || i.baselineCost < this.c.minBaselineNano) return null;
    if (i.baselinePosts < this.c.minPosts || i.baselineActions < this.c.minBaselineActions || i.baselineActions <= 0) return null;
    if (i.posts < this.c.minPosts || i.actions < this.c.minActions) return null;
    if (i.cost < this.c.minSpendNano || i.cost <= 0n) return null;
    const kept = BigInt(i.actions) * i.baselineCost; // efficiency now / baseline = kept / total
    const total = i.cost * BigInt(i.baselineActions);
    const severity = grade((level) => ratioAtMost(kept, total, oneMinus(percentToFraction(level))), this.c.efficiency);
    if (!severity) return null;
    const unit = this.c.basis === 'follows' ? 'usd_per_follow' : 'usd_per_engagement';
    const baselineCpa = i.baselineCost === 0n ? 0n : (2n * i.baselineCost + BigInt(i.baselineActions)) / (2n * BigInt(i.baselineActions));
    const drop = quotientText((total - kept) * 100n, total, 2);
    return {
      type: 'efficiency_drop',
      severity,
      observed: usdPer(i.cost, BigInt(i.actions)),
      baseline: formatUsd(baselineCpa),
      threshold: formatUsd(divideAmount(baselineCpa, oneMinus(percentToFraction(this.c.efficiency.threshold)))),
      unit,
      multiplier: i.actions === 0 ? null : ratio(total, kept),
      message: `${this.c.basis} per USD of ${i.posts} mature posts fell ${drop} % against the ${i.baselinePosts} posts of the baseline (cost per ${this.c.basis === 'follows' ? 'follow' : 'engagement'} $${usdPer(i.cost, BigInt(i.actions))} vs $${formatUsd(baselineCpa)})`,
      details: {
        drop_percent: drop,
        threshold_drop_percent: decimalText(this.c.efficiency.threshold),
        cohort_cost_usd: formatUsd(i.cost),
        cohort_actions: String(i.actions),
        cohort_posts: String(i.posts),
        baseline_cost_usd: formatUsd(i.baselineCost),
        baseline_actions: String(i.baselineActions),
        baseline_posts: String(i.baselinePosts),
        baseline_cohorts: String(i.baselineCohorts),
      },
    };
  }
}
