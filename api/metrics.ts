import { counter, histogram, LATENCY_BUCKETS } from '../src/metrics';

/** Labels are the route pattern (bounded), never the raw URL (which carries post ids). */
export const apiMetrics = {
  requests: counter('finops_api_requests_total', 'API requests by route pattern, method and status code.', ['route', 'method', 'status_code']),
  duration: histogram('finops_api_request_duration_seconds', 'API request latency by route pattern.', ['route'], LATENCY_BUCKETS),
};
