import { CostType } from '../src/events';

export type EfficiencyRating = 'excellent' | 'good' | 'poor' | 'critical';

/**
 * Rating of a post's total against its target (persona_targets, else API_TARGET_COST_PER_POST_USD,
 * $0.02 by default), compared exactly in nano-dollars:
 *   excellent ≤ 0.5 × target < good ≤ 1 × target < poor ≤ 2 × target < critical
 * (2 × target is the seed's alert threshold, $0.04 by default).
 */
export function efficiencyRating(totalNano: bigint, targetNano: bigint): EfficiencyRating {
  if (totalNano * 2n <= targetNano) return 'excellent';
  if (totalNano <= targetNano) return 'good';
  if (totalNano <= targetNano * 2n) return 'poor';
  return 'critical';
}

export const COST_TYPES: readonly CostType[] = ['openai_api', 'kubernetes', 'vector_db', 'other'];

/** The cost type with the largest amount; ties go to the earlier type in COST_TYPES; null when all are zero. */
export function primaryCostType(byType: Record<CostType, bigint>): CostType | null {
  let best: CostType | null = null;
  for (const t of COST_TYPES) if (byType[t] > 0n && (best === null || byType[t] > byType[best])) best = t;
  return best;
}
