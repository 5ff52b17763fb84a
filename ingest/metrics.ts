import { counter, histogram, LATENCY_BUCKETS } from '../src/metrics';

// Every known label value is exported from the start (at 0), so rate() and increase() see the first one.
const EVENT_OUTCOMES = ['accepted', 'refused', 'unacknowledged'];
const AUTH_FAILURES = ['missing', 'malformed', 'unknown_token', 'missing_scope'];
const LIMITED_CLIENTS = ['token', 'anonymous'];

export function ingestMetrics() {
  const m = {
    requests: counter('finops_ingest_requests_total', 'POST /events requests by status code.', ['status_code']),
    duration: histogram('finops_ingest_request_duration_seconds', 'POST /events latency, request to answer (a 202 comes after Kafka acknowledged).', [], LATENCY_BUCKETS),
    events: counter('finops_ingest_events_total', 'Events in POST /events batches by outcome (accepted, refused: the batch held an invalid event, unacknowledged: Kafka did not acknowledge in time).', ['outcome']),
    authFailures: counter('finops_ingest_auth_failures_total', 'Ingest requests refused by authentication or scope, by reason.', ['reason']),
    rateLimited: counter('finops_ingest_rate_limited_total', 'Ingest requests refused with 429, by kind of client (token, anonymous).', ['client']),
  };
  for (const outcome of EVENT_OUTCOMES) m.events.inc({ outcome }, 0);
  for (const reason of AUTH_FAILURES) m.authFailures.inc({ reason }, 0);
  for (const client of LIMITED_CLIENTS) m.rateLimited.inc({ client }, 0);
  return m;
}
