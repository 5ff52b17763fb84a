/** The CostAnomaly record (schemas/cost-anomaly.avsc) as avsc decodes it. */
import type { Severity } from '../../src/contracts/anomaly';
export type { AnomalyStatus, AnomalyType, CostAnomaly, Severity } from '../../src/contracts/anomaly';

export const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

