import { counter, histogram, LATENCY_BUCKETS } from '../../src/metrics';

export function alertMetrics() {
  return {
    deliveries: counter('finops_alert_deliveries_total', 'Alert deliveries by channel and outcome (delivered, dead_lettered, skipped, duplicate, folded).', ['channel', 'outcome']),
    attempts: counter('finops_alert_delivery_attempts_total', 'HTTP/SMTP attempts made by channel and result (ok, retry, failed).', ['channel', 'result']),
    latency: histogram('finops_alert_delivery_latency_seconds', 'From the anomaly record timestamp to the channel accepting the notification.', ['channel'], LATENCY_BUCKETS),
    anomalies: counter('finops_alert_anomalies_total', 'Anomaly records consumed by the alert consumer, by outcome (routed, folded, resolved, unrouted, dead_letter).', ['outcome']),
  };
}
