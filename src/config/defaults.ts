/**
 * Every setting the pipeline reads, with its environment variable and default.
 * Resolution order is explicit value → environment → default (see ./index.ts).
 * Defaults point at the local stack started by `npm run stack up`.
 */
export const defaults = {
  /** Comma-separated bootstrap brokers. */
  KAFKA_BROKERS: '127.0.0.1:19092',
  KAFKA_CLIENT_ID: 'finops-pipeline',
  /** Confluent-compatible schema registry base URL (Apicurio serves it under /apis/ccompat/v7). */
  SCHEMA_REGISTRY_URL: 'http://127.0.0.1:18081/apis/ccompat/v7',
  DATABASE_URL: 'postgres://finops:finops@127.0.0.1:15432/finops',
  /** Connections per process; the storage consumer needs one per concurrent flush, the API more. */
  DATABASE_POOL_MAX: '10',
  REDIS_URL: 'redis://127.0.0.1:16379',

  /** Topic names. Versioned so an incompatible change gets a new topic, never a broken consumer. */
  TOPIC_COST_EVENTS: 'finops.cost-events.v1',
  TOPIC_POST_OUTCOMES: 'finops.post-outcomes.v1',
  TOPIC_COST_ANOMALIES: 'finops.cost-anomalies.v1',
  TOPIC_COST_CONTROLS: 'finops.cost-controls.v1',
  TOPIC_DEAD_LETTER: 'finops.dead-letter.v1',
  /** Partitions for topics the pipeline creates; consumer replicas beyond this sit idle. */
  TOPIC_PARTITIONS: '6',
  TOPIC_REPLICATION_FACTOR: '1',

  /** Storage consumer: flush when this many events are buffered … */
  STORAGE_BATCH_MAX_EVENTS: '5000',
  /** … or when the oldest buffered event has waited this long. */
  STORAGE_BATCH_MAX_WAIT_MS: '50',
  STORAGE_GROUP_ID: 'finops-storage',
  /** How long the group waits for a silent member before giving its partitions to others. */
  KAFKA_SESSION_TIMEOUT_MS: '30000',
  /** Months of partitions created ahead of now, and months kept (0 keeps everything). */
  STORAGE_PARTITIONS_AHEAD_MONTHS: '3',
  STORAGE_RETENTION_MONTHS: '0',
  /** Events further than this from now are rejected as implausible (clock bugs, unit mix-ups). */
  STORAGE_MAX_FUTURE_SKEW_MS: String(24 * 3600 * 1000),
  STORAGE_MAX_PAST_AGE_DAYS: '400',
  /** Largest accepted metadata map, in bytes of its JSON form. */
  STORAGE_MAX_METADATA_BYTES: '16384',

  /** Port serving /metrics, /health and /ready for consumer roles. */
  METRICS_PORT: '9464',
  LOG_LEVEL: 'info',

  /** SDK pricing: what to do with a model that has no known price: 'flag' (store, marked) or 'reject'. */
  PRICING_UNKNOWN_MODEL: 'flag',
  /** JSON object of per-model overrides in USD per million tokens, e.g. {"my-model":{"input_mtok":"1.5","output_mtok":"2"}}. */
  PRICING_MODEL_OVERRIDES: '{}',
  /** OpenCost's published default on-demand rates. */
  PRICING_CPU_USD_PER_CORE_HOUR: '0.031611',
  PRICING_MEMORY_USD_PER_GB_HOUR: '0.004237',
  /** JSON object of USD per vector-DB unit by operation. */
  PRICING_VECTOR_DB_USD_PER_UNIT: '{"query":"0.000004","upsert":"0.000002","delete":"0.000001","fetch":"0.000001"}',

  /** SDK producer batching. Kafka's own client has no linger, so the SDK batches. */
  SDK_LINGER_MS: '5',
  SDK_MAX_BATCH_EVENTS: '1000',
  /** Events buffered before track*() callers wait for room (bounded memory). */
  SDK_MAX_BUFFERED_EVENTS: '50000',
  /** none | gzip */
  SDK_COMPRESSION: 'gzip',

  // ── Operations (metrics, lag collector) ──────────────────────────────────────────────────────
  /** Target cost per post (the seed's $0.02) and the line above which a post is a threshold breach (2 × target). */
  METRICS_COST_PER_POST_TARGET_USD: '0.02',
  METRICS_COST_PER_POST_BREACH_USD: '0.04',
  /** A post is observed in finops_cost_per_post_usd once it has had no new cost for this long. */
  METRICS_POST_SETTLE_MS: '60000',
  /** Bound on posts still accruing cost held by the metrics recorder (oldest observed first when full). */
  METRICS_MAX_OPEN_POSTS: '10000',
  /** Bound on distinct values of one metric label (persona_id, model) per process; the rest become "_other". */
  METRICS_MAX_LABEL_VALUES: '1000',
  /** How often each consumer process exports finops_consumer_lag_messages for its groups. */
  LAG_COLLECTOR_INTERVAL_MS: '5000',
  /** Extra consumer groups (comma-separated) whose lag to export besides the running roles' own. */
  LAG_COLLECTOR_GROUPS: '',
} as const;

export type SettingName = keyof typeof defaults;
