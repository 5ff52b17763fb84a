import { AnomalyType, Severity } from '../../src/contracts/anomaly';
import { counter, gauge, histogram, LATENCY_BUCKETS } from '../../src/metrics';

const DETECTED_TYPES: AnomalyType[] = ['cost_spike', 'efficiency_drop', 'negative_roi', 'budget_threshold', 'budget_forecast', 'post_cost_threshold'];
const SEVERITIES: Severity[] = ['low', 'medium', 'high', 'critical'];

export function anomalyMetrics() {
  const m = {
    events: counter(
      'finops_anomaly_events_total',
      'Input messages handled by the anomaly consumer, by input (cost, outcome) and outcome (processed, dead_lettered, replayed; of the processed: duplicate = a cost event id seen before, not counted again; stale = an outcome older than the one applied to its post; late = an outcome after its post\'s cohort was judged).',
      ['input', 'outcome'],
    ),
    cohorts: counter('finops_anomaly_cohorts_total', 'Post cohorts that matured, by verdict: judged (efficiency and ROI), merged (too few posts reported outcomes; merged into the next), thin (too few even merged; kept for the baseline), silent (no post reported outcomes).', ['verdict']),
    anomalies: counter('finops_anomalies_total', 'Anomaly states published, by type, severity and status (open, escalated, resolved).', ['type', 'severity', 'status']),
    suppressed: counter('finops_anomaly_duplicates_suppressed_total', 'Anomaly states recomputed on replay after a restart and not published again.'),
    detectionLatency: histogram('finops_anomaly_detection_latency_seconds', 'From the Kafka timestamp of the event that crossed a threshold to its anomaly acknowledged on the anomalies topic.', ['type'], LATENCY_BUCKETS),
    active: gauge('finops_anomalies_active', 'Anomalies open (not resolved) in this instance.'),
    state: gauge('finops_anomaly_state_entries', 'Entries held in the anomaly state, by kind (personas, posts, open_windows).', ['kind']),
    checkpointDuration: histogram('finops_anomaly_checkpoint_duration_seconds', 'Time to flush anomalies and write one state checkpoint.', [], LATENCY_BUCKETS),
    checkpointBytes: gauge('finops_anomaly_checkpoint_bytes', 'Size of the last state checkpoint written by this instance.'),
    deadLetters: counter('finops_dead_letters_total', 'Messages sent to the dead-letter topic, by reason.', ['reason']),
    rebalances: counter('finops_consumer_rebalances_total', 'Consumer group rebalances seen by this process.', ['group']),
  };
  // The series the FinOpsAnomalyDetected rule reads exist at 0 from the start, so increase() sees the
  // first anomaly of each type and severity (a counter first scraped at 1 has no increase).
  for (const type of DETECTED_TYPES) for (const severity of SEVERITIES) for (const status of ['open', 'escalated']) m.anomalies.inc({ type, severity, status }, 0);
  return m;
}
