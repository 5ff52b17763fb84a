import { formatUsd } from '../../../src/money';
import { decimalText, percentToFraction, quotientText, ratioAtMost } from '../exact';
import { Graded } from '../settings';
import { Finding } from '../types';
import { grade } from './severity';

export interface RoiInput {
  /** The mature cohort: cost and revenue of its posts that reported outcomes (unknown is not −100 %), and how many. */
  cost: bigint;
  revenue: bigint;
  posts: number;
  /** Earlier cohorts with outcomes, and their posts: the minimum-history gate, as spikes have. */
  baselinePosts: number;
  baselineCohorts: number;
}

export interface RoiConfig {
  /** ROI percentages, negative. */
  roi: Graded;
  minSpendNano: bigint;
  minPosts: number;
  minBaselineCohorts: number;
}

/**
 * ROI of a cohort of mature posts = (revenue − cost) / cost ≤ −50 % (medium), −75 % (high),
 * −90 % (critical) by default. Judged only with enough posts reporting, in this cohort and in
 * enough earlier ones: never on a persona's first outcomes.
 */
export class RoiDetector {
  constructor(private readonly c: RoiConfig) {}

  evaluate(i: RoiInput): Finding | null {
    if (i.posts < this.c.minPosts || i.baselineCohorts < this.c.minBaselineCohorts || i.baselinePosts < this.c.minPosts) return null;
    if (i.cost < this.c.minSpendNano || i.cost <= 0n) return null;
    const net = i.revenue - i.cost;
    const severity = grade((level) => ratioAtMost(net, i.cost, percentToFraction(level)), this.c.roi);
    if (!severity) return null;
    const roi = quotientText(net * 100n, i.cost, 2);
    return {
      type: 'negative_roi',
      severity,
      observed: roi,
      baseline: null,
      threshold: decimalText(this.c.roi.threshold),
      unit: 'percent',
      multiplier: null,
      message: `ROI ${roi} % over ${i.posts} mature posts: revenue $${formatUsd(i.revenue)} for $${formatUsd(i.cost)} spent`,
      details: { revenue_usd: formatUsd(i.revenue), cost_usd: formatUsd(i.cost), cohort_posts: String(i.posts), baseline_cohorts: String(i.baselineCohorts) },
    };
  }
}
