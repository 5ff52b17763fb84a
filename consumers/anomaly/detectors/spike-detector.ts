import { formatUsd, ratio } from '../../../src/money';
import { decimalText, ratioAtLeast } from '../exact';
import { Graded } from '../settings';
import { Finding } from '../types';
import { grade } from './severity';

export interface SpikeInput {
  /** Spend so far in the window being judged (it may still be open). */
  spend: bigint;
  /** Median spend of the previous closed windows with spend; null before there are any. */
  baseline: bigint | null;
  /** How many windows the baseline is made of. */
  baselineWindows: number;
}

export interface SpikeConfig {
  spike: Graded;
  minBaselineNano: bigint;
  minSpendNano: bigint;
  minBaselineWindows: number;
}

/** Window spend ≥ multiplier × baseline (3× medium, 3.5× high, 5× critical by default). */
export class SpikeDetector {
  constructor(private readonly c: SpikeConfig) {}

  evaluate({ spend, baseline, baselineWindows }: SpikeInput): Finding | null {
    if (baseline === null || baselineWindows < this.c.minBaselineWindows) return null;
    if (baseline < this.c.minBaselineNano || baseline <= 0n || spend < this.c.minSpendNano) return null;
    const severity = grade((level) => ratioAtLeast(spend, baseline, level), this.c.spike);
    if (!severity) return null;
    const multiplier = ratio(spend, baseline);
    return {
      type: 'cost_spike',
      severity,
      observed: formatUsd(spend),
      baseline: formatUsd(baseline),
      threshold: decimalText(this.c.spike.threshold),
      unit: 'usd',
      multiplier,
      message: `spend of $${formatUsd(spend)} in the window is ${multiplier.toFixed(2)}× the baseline $${formatUsd(baseline)}`,
      details: { baseline_windows: String(baselineWindows), threshold_unit: 'multiplier' },
    };
  }
}
