import { counter, histogram, LATENCY_BUCKETS } from '../metrics';
import { CHANNELS } from './notification';

/** Delivery metrics of every notifier (alerts and the breaker's pages), by channel. */
export function notifyMetrics() {
  const m = {
    deliveries: counter('finops_alert_deliveries_total', 'Alert deliveries by channel and outcome (delivered, dead_lettered, skipped, duplicate, folded, coalesced).', ['channel', 'outcome']),
    attempts: counter('finops_alert_delivery_attempts_total', 'HTTP/SMTP attempts made by channel and result (ok, retry, failed).', ['channel', 'result']),
    latency: histogram('finops_alert_delivery_latency_seconds', 'From the anomaly record timestamp to the channel accepting the notification.', ['channel'], LATENCY_BUCKETS),
  };
  // Delivered and dead-lettered series exist at 0 from the start, so increase() (FinOpsAlertDeliveryFailing)
  // sees a channel's first failure (a counter first scraped at 1 has no increase).
  for (const channel of CHANNELS) for (const outcome of ['delivered', 'dead_lettered']) m.deliveries.inc({ channel, outcome }, 0);
  return m;
}
