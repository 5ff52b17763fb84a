import { formatUsd, ratio } from '../../../src/money';
import { decimalText, ratioAbove, scaleAmount } from '../exact';
import { Graded } from '../settings';
import { Finding } from '../types';
import { grade } from './severity';

export interface PostCostInput {
  postId: string;
  cost: bigint;
  target: bigint;
}

/** A post costing MORE than 2× its target (medium), 4× (high), 10× (critical) by default. */
export class PostCostDetector {
  constructor(private readonly post: Graded) {}

  evaluate({ postId, cost, target }: PostCostInput): Finding | null {
    if (target <= 0n) return null;
    const severity = grade((level) => ratioAbove(cost, target, level), this.post);
    if (!severity) return null;
    const multiplier = ratio(cost, target);
    return {
      type: 'post_cost_threshold',
      severity,
      observed: formatUsd(cost),
      baseline: formatUsd(target),
      threshold: formatUsd(scaleAmount(target, this.post.threshold)),
      unit: 'usd',
      multiplier,
      message: `post ${postId} has cost $${formatUsd(cost)}, ${multiplier.toFixed(2)}× its $${formatUsd(target)} target`,
      details: { target_usd: formatUsd(target), threshold_multiplier: decimalText(this.post.threshold) },
    };
  }
}
