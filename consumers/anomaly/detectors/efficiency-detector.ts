import { formatUsd, ratio } from '../../../src/money';
import { decimalText, divideAmount, oneMinus, percentToFraction, quotientText, ratioAtMost, usdPer } from '../exact';
import { Graded } from '../settings';
import { Finding } from '../types';
import { grade } from './severity';

export interface EfficiencyInput {
  /** The closed window: its spend and the engagements (or follows) it earned. */
  cost: bigint;
  actions: number;
  /** Sums over the baseline windows. */
  baselineCost: bigint;
  baselineActions: number;
  baselineWindows: number;
}

export interface EfficiencyConfig {
  /** Drop percentages. */
  efficiency: Graded;
  basis: 'engagements' | 'follows';
  minBaselineNano: bigint;
  minSpendNano: bigint;
  minBaselineWindows: number;
  minBaselineActions: number;
}

/**
 * Efficiency is outcomes per USD (engagements or follows). A drop of D % against the baseline
 * (ratio of the baseline windows' sums) means cost per outcome rose to baseline / (1 − D).
 * drop ≥ D  ⇔  (a·cb) / (c·ab) ≤ 1 − D, compared exactly in integers.
 */
export class EfficiencyDetector {
  constructor(private readonly c: EfficiencyConfig) {}

  evaluate(i: EfficiencyInput): Finding | null {
    if (i.baselineWindows < this.c.minBaselineWindows || i.baselineCost < this.c.minBaselineNano) return null;
    if (i.baselineActions < this.c.minBaselineActions || i.baselineActions <= 0) return null;
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
      message: `${this.c.basis} per USD fell ${drop} % against the baseline (cost per ${this.c.basis === 'follows' ? 'follow' : 'engagement'} $${usdPer(i.cost, BigInt(i.actions))} vs $${formatUsd(baselineCpa)})`,
      details: {
        drop_percent: drop,
        threshold_drop_percent: decimalText(this.c.efficiency.threshold),
        window_cost_usd: formatUsd(i.cost),
        window_actions: String(i.actions),
        baseline_cost_usd: formatUsd(i.baselineCost),
        baseline_actions: String(i.baselineActions),
        baseline_windows: String(i.baselineWindows),
      },
    };
  }
}
