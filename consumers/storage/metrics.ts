import { counter, histogram, LATENCY_BUCKETS } from '../../src/metrics';

export function storageMetrics() {
  return {
    events: counter('finops_storage_events_total', 'Cost events handled by the storage consumer, by outcome (stored, duplicate).', ['outcome']),
    deadLetters: counter('finops_dead_letters_total', 'Messages sent to the dead-letter topic, by reason.', ['reason']),
    batchSize: histogram('finops_storage_batch_events', 'Messages per storage transaction.', [], [1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 20000]),
    batchDuration: histogram('finops_storage_batch_duration_seconds', 'Time to write and commit one storage batch.', [], LATENCY_BUCKETS),
    ingestLatency: histogram('finops_storage_ingest_latency_seconds', 'From the Kafka message timestamp to its row committed in Postgres.', [], LATENCY_BUCKETS),
    rebalances: counter('finops_consumer_rebalances_total', 'Consumer group rebalances seen by this process.', ['group']),
  };
}
