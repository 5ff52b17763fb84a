/** The CostAnomaly record (schemas/cost-anomaly.avsc) as avsc decodes it. */
export { SEVERITIES, severityRank } from '../../src/contracts/anomaly';
export type { AnomalyStatus, AnomalyType, CostAnomaly, Severity } from '../../src/contracts/anomaly';
