import { counter } from '../../src/metrics';

export function alertMetrics() {
  return {
    anomalies: counter('finops_alert_anomalies_total', 'Anomaly records consumed by the alert consumer, by outcome (routed, folded, coalesced, resolved, unrouted, dead_letter).', ['outcome']),
  };
}
