import { formatUsd, ratio } from '../../../src/money';
import { decimalText, percentToFraction, ratioAtLeast, scaleAmount } from '../exact';
import { Graded } from '../settings';
import { Finding } from '../types';
import { grade } from './severity';

export interface BudgetInput {
  period: 'daily' | 'monthly';
  spend: bigint;
  limit: bigint;
}

/** Spend ≥ 80 % of the period's budget (medium), 90 % (high), 100 % (critical) by default. */
export class BudgetDetector {
  constructor(private readonly budget: Graded) {}

  evaluate({ period, spend, limit }: BudgetInput): Finding | null {
    if (limit <= 0n) return null;
    const severity = grade((level) => ratioAtLeast(spend, limit, percentToFraction(level)), this.budget);
    if (!severity) return null;
    const use = ratio(spend, limit);
    return {
      type: 'budget_threshold',
      severity,
      observed: formatUsd(spend),
      baseline: formatUsd(limit),
      threshold: formatUsd(scaleAmount(limit, percentToFraction(this.budget.threshold))),
      unit: 'usd',
      multiplier: use,
      message: `${(use * 100).toFixed(1)} % of the ${period} budget of $${formatUsd(limit)} spent ($${formatUsd(spend)})`,
      details: { period, budget_usd: formatUsd(limit), threshold_percent: decimalText(this.budget.threshold) },
    };
  }
}
