/**
 * Generates grafana/dashboards/{executive,technical}.json (Grafana provisioning JSON).
 *   npx tsx grafana/generate-dashboards.ts
 * Keep expressions free of Grafana variables ($__rate_interval, …): tests/integration/prometheus.test.ts
 * evaluates every one of them verbatim against a real Prometheus.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DS = { type: 'prometheus', uid: 'finops-prometheus' };

interface Target {
  expr: string;
  legend?: string;
}
interface PanelSpec {
  title: string;
  type: 'timeseries' | 'stat' | 'gauge' | 'bargauge' | 'table';
  targets: Target[];
  unit?: string;
  w?: number;
  h?: number;
  description?: string;
  thresholds?: { value: number | null; color: string }[];
  decimals?: number;
}

function dashboard(uid: string, title: string, description: string, specs: PanelSpec[]) {
  let x = 0;
  let y = 0;
  let rowH = 0;
  const panels = specs.map((s, i) => {
    const w = s.w ?? 12;
    const h = s.h ?? 8;
    if (x + w > 24) {
      x = 0;
      y += rowH;
      rowH = 0;
    }
    const gridPos = { x, y, w, h };
    x += w;
    rowH = Math.max(rowH, h);
    return {
      id: i + 1,
      type: s.type,
      title: s.title,
      description: s.description ?? '',
      datasource: DS,
      gridPos,
      fieldConfig: {
        defaults: {
          unit: s.unit ?? 'short',
          ...(s.decimals !== undefined ? { decimals: s.decimals } : {}),
          thresholds: { mode: 'absolute', steps: s.thresholds ?? [{ value: null, color: 'green' }] },
        },
        overrides: [],
      },
      options: s.type === 'timeseries' ? { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } } : { reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } },
      targets: s.targets.map((t, j) => ({ refId: String.fromCharCode(65 + j), datasource: DS, expr: t.expr, legendFormat: t.legend ?? '' })),
    };
  });
  return {
    uid,
    title,
    description,
    tags: ['finops'],
    timezone: 'utc',
    schemaVersion: 39,
    version: 1,
    editable: true,
    refresh: '30s',
    time: { from: 'now-24h', to: 'now' },
    templating: { list: [] },
    annotations: { list: [] },
    panels,
  };
}

// Replicas of a consumer each export the same lag series: take the max per partition first.
const LAG = 'max by (group, topic, partition) (finops_consumer_lag_messages)';

export const executive = dashboard('finops-executive', 'FinOps — Executive', 'Spend, cost per post against target, anomalies and the controls in force.', [
  { title: 'Spend, last 24 h', type: 'stat', unit: 'currencyUSD', w: 6, h: 5, decimals: 2, targets: [{ expr: 'sum(increase(finops_costs_usd_total[24h]))' }] },
  { title: 'Spend, last hour', type: 'stat', unit: 'currencyUSD', w: 6, h: 5, decimals: 4, targets: [{ expr: 'sum(increase(finops_costs_usd_total[1h]))' }] },
  {
    title: 'Cost per post (mean, last hour) vs target',
    type: 'stat',
    unit: 'currencyUSD',
    w: 6,
    h: 5,
    decimals: 4,
    thresholds: [{ value: null, color: 'green' }, { value: 0.02, color: 'orange' }, { value: 0.04, color: 'red' }],
    targets: [{ expr: 'sum(rate(finops_cost_per_post_usd_sum[1h])) / sum(rate(finops_cost_per_post_usd_count[1h]))' }],
  },
  { title: 'Posts over the breach line, last 24 h', type: 'stat', w: 6, h: 5, thresholds: [{ value: null, color: 'green' }, { value: 1, color: 'red' }], targets: [{ expr: 'sum(increase(finops_cost_per_post_threshold_breaches_total[24h]))' }] },
  {
    title: 'Spend trend (USD per hour) by cost type',
    type: 'timeseries',
    unit: 'currencyUSD',
    w: 12,
    targets: [{ expr: 'sum by (cost_type) (rate(finops_costs_usd_total[5m])) * 3600', legend: '{{cost_type}}' }],
  },
  {
    title: 'Cost per post vs target',
    type: 'timeseries',
    unit: 'currencyUSD',
    w: 12,
    description: 'Mean and p95 cost of settled posts by persona, against the $0.02 target and the $0.04 breach line.',
    targets: [
      { expr: 'sum by (persona_id) (rate(finops_cost_per_post_usd_sum[1h])) / sum by (persona_id) (rate(finops_cost_per_post_usd_count[1h]))', legend: 'mean {{persona_id}}' },
      { expr: 'histogram_quantile(0.95, sum by (le) (rate(finops_cost_per_post_usd_bucket[1h])))', legend: 'p95 all personas' },
      { expr: 'max(finops_cost_per_post_target_usd)', legend: 'target' },
      { expr: 'max(finops_cost_per_post_breach_usd)', legend: 'breach line' },
    ],
  },
  { title: 'OpenAI spend by model (USD per hour)', type: 'timeseries', unit: 'currencyUSD', w: 8, targets: [{ expr: 'sum by (model) (rate(openai_api_costs_usd_total[5m])) * 3600', legend: '{{model}}' }] },
  { title: 'Kubernetes spend by persona (USD per hour)', type: 'timeseries', unit: 'currencyUSD', w: 8, targets: [{ expr: 'sum by (persona_id) (rate(kubernetes_resource_costs_usd_total[5m])) * 3600', legend: '{{persona_id}}' }] },
  { title: 'Vector DB spend by operation (USD per hour)', type: 'timeseries', unit: 'currencyUSD', w: 8, targets: [{ expr: 'sum by (operation) (rate(vector_db_operation_costs_usd_total[5m])) * 3600', legend: '{{operation}}' }] },
  { title: 'Active anomalies', type: 'stat', w: 6, h: 5, thresholds: [{ value: null, color: 'green' }, { value: 1, color: 'red' }], targets: [{ expr: 'sum(finops_anomalies_active)' }] },
  { title: 'Anomalies opened, last 24 h', type: 'stat', w: 6, h: 5, targets: [{ expr: 'sum by (severity) (increase(finops_anomalies_total{status="open"}[24h]))', legend: '{{severity}}' }] },
  {
    title: 'Controls in force (personas throttled, switched or paused)',
    type: 'stat',
    w: 6,
    h: 5,
    description: 'Read by every breaker instance from the shared control state, so the max across instances.',
    thresholds: [{ value: null, color: 'green' }, { value: 1, color: 'orange' }],
    targets: [{ expr: 'max(finops_breaker_controlled_personas)' }],
  },
  { title: 'Breaker transitions, last 24 h', type: 'stat', w: 6, h: 5, targets: [{ expr: 'sum by (to_level) (increase(finops_breaker_transitions_total[24h]))', legend: '{{to_level}}' }] },
  { title: 'Spend by persona, last 24 h', type: 'bargauge', unit: 'currencyUSD', w: 12, targets: [{ expr: 'sort_desc(sum by (persona_id) (increase(finops_costs_usd_total[24h])))', legend: '{{persona_id}}' }] },
  { title: 'Threshold breaches by persona, last 24 h', type: 'bargauge', w: 12, targets: [{ expr: 'sort_desc(sum by (persona_id) (increase(finops_cost_per_post_threshold_breaches_total[24h])))', legend: '{{persona_id}}' }] },
]);

export const technical = dashboard('finops-technical', 'FinOps — Technical', 'Throughput, consumer lag, latency, errors and resources of every role.', [
  { title: 'Processes up', type: 'stat', w: 6, h: 5, targets: [{ expr: 'sum(up{job=~"finops.*"})' }] },
  { title: 'Events stored per second', type: 'stat', unit: 'ops', w: 6, h: 5, targets: [{ expr: 'sum(rate(finops_storage_events_total{outcome="stored"}[1m]))' }] },
  { title: 'Total consumer lag (messages)', type: 'stat', w: 6, h: 5, thresholds: [{ value: null, color: 'green' }, { value: 1000, color: 'orange' }, { value: 10000, color: 'red' }], targets: [{ expr: `sum(${LAG})` }] },
  { title: 'Dead letters, last hour', type: 'stat', w: 6, h: 5, thresholds: [{ value: null, color: 'green' }, { value: 1, color: 'orange' }], targets: [{ expr: 'sum(increase(finops_dead_letters_total[1h]))' }] },
  {
    title: 'Throughput (messages per second)',
    type: 'timeseries',
    unit: 'ops',
    targets: [
      { expr: 'sum by (outcome) (rate(finops_storage_events_total[1m]))', legend: 'storage {{outcome}}' },
      { expr: 'sum by (cost_type) (rate(finops_cost_events_total[1m]))', legend: 'committed {{cost_type}}' },
    ],
  },
  {
    title: 'Consumer lag by group and topic',
    type: 'timeseries',
    targets: [{ expr: `sum by (group, topic) (${LAG})`, legend: '{{group}} {{topic}}' }],
  },
  { title: 'Consumer lag by partition', type: 'timeseries', targets: [{ expr: LAG, legend: '{{group}} p{{partition}}' }] },
  {
    title: 'End-to-end latency (Kafka timestamp → committed row)',
    type: 'timeseries',
    unit: 's',
    targets: [
      { expr: 'histogram_quantile(0.5, sum by (le) (rate(finops_storage_ingest_latency_seconds_bucket[5m])))', legend: 'p50' },
      { expr: 'histogram_quantile(0.95, sum by (le) (rate(finops_storage_ingest_latency_seconds_bucket[5m])))', legend: 'p95' },
      { expr: 'histogram_quantile(0.99, sum by (le) (rate(finops_storage_ingest_latency_seconds_bucket[5m])))', legend: 'p99' },
    ],
  },
  { title: 'Operation latency p95 by operation', type: 'timeseries', unit: 's', targets: [{ expr: 'histogram_quantile(0.95, sum by (le, operation) (rate(finops_operation_latency_seconds_bucket[5m])))', legend: '{{operation}}' }] },
  {
    title: 'Storage batches',
    type: 'timeseries',
    targets: [
      { expr: 'sum(rate(finops_storage_batch_events_sum[5m])) / sum(rate(finops_storage_batch_events_count[5m]))', legend: 'mean events per batch' },
      { expr: 'histogram_quantile(0.95, sum by (le) (rate(finops_storage_batch_duration_seconds_bucket[5m])))', legend: 'p95 batch seconds' },
    ],
  },
  {
    title: 'Errors',
    type: 'timeseries',
    unit: 'ops',
    targets: [
      { expr: 'sum by (dependency) (rate(finops_dependency_errors_total[5m]))', legend: '{{dependency}} errors' },
      { expr: 'sum by (reason) (rate(finops_dead_letters_total[5m]))', legend: 'dead letter {{reason}}' },
      { expr: 'sum by (outcome) (rate(finops_lag_collector_runs_total{outcome="error"}[5m]))', legend: 'lag collector {{outcome}}' },
    ],
  },
  {
    title: 'Detection and reaction latency (p95)',
    type: 'timeseries',
    unit: 's',
    targets: [
      { expr: 'histogram_quantile(0.95, sum by (le, type) (rate(finops_anomaly_detection_latency_seconds_bucket[5m])))', legend: 'detect {{type}}' },
      { expr: 'histogram_quantile(0.95, sum by (le) (rate(finops_breaker_anomaly_to_control_seconds_bucket[5m])))', legend: 'anomaly → control' },
      { expr: 'histogram_quantile(0.95, sum by (le, channel) (rate(finops_alert_delivery_latency_seconds_bucket[5m])))', legend: 'alert via {{channel}}' },
    ],
  },
  { title: 'Alert deliveries by channel and outcome', type: 'timeseries', unit: 'ops', targets: [{ expr: 'sum by (channel, outcome) (rate(finops_alert_deliveries_total[5m]))', legend: '{{channel}} {{outcome}}' }] },
  {
    title: 'API',
    type: 'timeseries',
    targets: [
      { expr: 'sum by (status_code) (rate(finops_api_requests_total[5m]))', legend: 'req/s {{status_code}}' },
      { expr: 'histogram_quantile(0.95, sum by (le, route) (rate(finops_api_request_duration_seconds_bucket[5m])))', legend: 'p95 s {{route}}' },
      { expr: 'sum(rate(finops_api_cache_requests_total{outcome="hit"}[5m])) / sum(rate(finops_api_cache_requests_total[5m]))', legend: 'cache hit ratio' },
    ],
  },
  {
    title: 'HTTP ingest (POST /events)',
    type: 'timeseries',
    description: 'Events by outcome (accepted after Kafka acknowledged; refused: the batch held an invalid event; unacknowledged: answered 503), requests by status, and request → answer latency.',
    targets: [
      { expr: 'sum by (outcome) (rate(finops_ingest_events_total[5m]))', legend: 'events/s {{outcome}}' },
      { expr: 'sum by (status_code) (rate(finops_ingest_requests_total[5m]))', legend: 'req/s {{status_code}}' },
      { expr: 'histogram_quantile(0.99, sum by (le) (rate(finops_ingest_request_duration_seconds_bucket[5m])))', legend: 'p99 s' },
    ],
  },
  {
    title: 'HTTP ingest refusals (auth, rate limit)',
    type: 'timeseries',
    unit: 'ops',
    targets: [
      { expr: 'sum by (reason) (rate(finops_ingest_auth_failures_total[5m]))', legend: 'auth {{reason}}' },
      { expr: 'sum by (client) (rate(finops_ingest_rate_limited_total[5m]))', legend: 'rate limited {{client}}' },
    ],
  },
  { title: 'Rebalances, last hour', type: 'timeseries', targets: [{ expr: 'sum by (group) (increase(finops_consumer_rebalances_total[1h]))', legend: '{{group}}' }] },
  {
    title: 'Memory',
    type: 'timeseries',
    unit: 'bytes',
    targets: [
      { expr: 'process_resident_memory_bytes{job=~"finops.*"}', legend: 'rss {{instance}}' },
      { expr: 'nodejs_heap_size_used_bytes{job=~"finops.*"}', legend: 'heap {{instance}}' },
    ],
  },
  {
    title: 'CPU and event loop',
    type: 'timeseries',
    targets: [
      { expr: 'rate(process_cpu_seconds_total{job=~"finops.*"}[1m])', legend: 'cpu cores {{instance}}' },
      { expr: 'nodejs_eventloop_lag_p99_seconds{job=~"finops.*"}', legend: 'event loop p99 s {{instance}}' },
    ],
  },
]);

if (require.main === module) {
  for (const [name, d] of Object.entries({ executive, technical })) {
    writeFileSync(join(__dirname, 'dashboards', `${name}.json`), JSON.stringify(d, null, 2) + '\n');
  }
}
