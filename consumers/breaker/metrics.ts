import { counter, gauge, histogram, LATENCY_BUCKETS } from '../../src/metrics';

export function breakerMetrics() {
  return {
    transitions: counter('finops_breaker_transitions_total', 'Circuit-breaker control transitions, by level reached and cause.', ['to_level', 'cause']),
    anomalies: counter('finops_breaker_anomalies_total', 'Anomaly records the breaker consumed, by outcome (transition, no_change, dead_letter).', ['outcome']),
    controlled: gauge('finops_breaker_controlled_personas', 'Personas with a control other than normal in force.'),
    latency: histogram('finops_breaker_anomaly_to_control_seconds', 'From the anomaly record timestamp to its control written to Redis.', [], LATENCY_BUCKETS),
  };
}
