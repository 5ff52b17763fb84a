import { formatUsd } from '../../../src/money';
import { decimalText, percentToFraction, quotientText, ratioAtMost } from '../exact';
import { Graded } from '../settings';
import { Finding } from '../types';
import { grade } from './severity';

export interface RoiInput {
  cost: bigint;
  revenue: bigint;
  /** Outcome messages in the horizon; ROI is unknown (not −100 %) for a persona reporting none. */
  outcomes: number;
  windows: number;
}

export interface RoiConfig {
  /** ROI percentages, negative. */
  roi: Graded;
  minSpendNano: bigint;
}

/** ROI = (revenue − cost) / cost ≤ −50 % (medium), −75 % (high), −90 % (critical) by default. */
export class RoiDetector {
  constructor(private readonly c: RoiConfig) {}

  evaluate(i: RoiInput): Finding | null {
    if (i.outcomes <= 0 || i.cost < this.c.minSpendNano || i.cost <= 0n) return null;
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
      message: `ROI ${roi} % over the last ${i.windows} windows: revenue $${formatUsd(i.revenue)} for $${formatUsd(i.cost)} spent`,
      details: { revenue_usd: formatUsd(i.revenue), cost_usd: formatUsd(i.cost), windows: String(i.windows) },
    };
  }
}
