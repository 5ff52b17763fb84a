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
  /**
   * `local` (the default off Kubernetes) allows the built-in local-stack DATABASE_URL below; any other
   * value (the default when KUBERNETES_SERVICE_HOST is set, and what the manifests set) makes a
   * missing database URL a start-up error.
   */
  FINOPS_ENVIRONMENT: '',
  /** The local stack's database; used only when FINOPS_ENVIRONMENT is local (see databaseUrl()). */
  DATABASE_URL: 'postgres://finops:finops@127.0.0.1:15432/finops',
  /**
   * Each role's own database login (see docs/security.md, "Database roles and grants"); empty falls
   * back to DATABASE_URL. MIGRATOR_DATABASE_URL is the schema owner used by `setup`/`migrate`.
   */
  MIGRATOR_DATABASE_URL: '',
  STORAGE_DATABASE_URL: '',
  ANOMALY_DATABASE_URL: '',
  ALERTS_DATABASE_URL: '',
  BREAKER_DATABASE_URL: '',
  API_DATABASE_URL: '',
  /** Connections per process; the storage consumer needs one per concurrent flush, the API more. */
  DATABASE_POOL_MAX: '10',
  REDIS_URL: 'redis://127.0.0.1:16379',

  // ── Transport security (docs/security.md#transports). Off by default: the local stack is plaintext. ──
  /** PLAINTEXT | SSL | SASL_PLAINTEXT | SASL_SSL, as in Kafka's own clients; applies to every Kafka client of the process. */
  KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT',
  /** PEM file of the CA(s) that signed the brokers' certificates; empty: the system's CAs. */
  KAFKA_SSL_CA_FILE: '',
  /** PEM client certificate and key, for brokers that require TLS client authentication (ssl.client.auth=required). */
  KAFKA_SSL_CERT_FILE: '',
  KAFKA_SSL_KEY_FILE: '',
  /** Passphrase of an encrypted client key (or a file holding it). */
  KAFKA_SSL_KEY_PASSWORD: '',
  KAFKA_SSL_KEY_PASSWORD_FILE: '',
  /** Name the brokers' certificates must carry when it is not the address they advertise. */
  KAFKA_SSL_SERVERNAME: '',
  /** false: verify the certificate chain against the CA but not the name in it (like ssl.endpoint.identification.algorithm=""). */
  KAFKA_SSL_CHECK_HOSTNAME: 'true',
  /** PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512, with KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SASL_PLAINTEXT). */
  KAFKA_SASL_MECHANISM: '',
  KAFKA_SASL_USERNAME: '',
  /** The SASL password (a secret), or a file holding it (a mounted Secret); set one of the two. */
  KAFKA_SASL_PASSWORD: '',
  KAFKA_SASL_PASSWORD_FILE: '',
  /** HTTP Basic credentials for the registry (or put them in SCHEMA_REGISTRY_URL as https://user:pass@host/…). */
  SCHEMA_REGISTRY_USERNAME: '',
  SCHEMA_REGISTRY_PASSWORD: '',
  SCHEMA_REGISTRY_PASSWORD_FILE: '',
  /** Postgres TLS: disable | require | verify-ca | verify-full (empty: whatever DATABASE_URL's sslmode says, else none). */
  DATABASE_SSL_MODE: '',
  /** PEM CA file for verify-ca / verify-full; client certificate and key for servers that ask for one. */
  DATABASE_SSL_CA_FILE: '',
  DATABASE_SSL_CERT_FILE: '',
  DATABASE_SSL_KEY_FILE: '',
  /** Redis TLS is on with a rediss:// REDIS_URL; these add a private CA and a client certificate. */
  REDIS_TLS_CA_FILE: '',
  REDIS_TLS_CERT_FILE: '',
  REDIS_TLS_KEY_FILE: '',

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
  /** Storage transactions in flight at once (each on its own connection; keep below DATABASE_POOL_MAX). */
  STORAGE_FLUSH_CONCURRENCY: '2',
  STORAGE_GROUP_ID: 'finops-storage',
  /**
   * Bytes one fetch may bring (all partitions) and per partition. Fetched batches stay in memory
   * until their messages are decoded and handed to a lane, so these bound the consumer's memory
   * outside the V8 heap; 256 KiB of lz4 is ~1,500 cost events. Draining a full topic, 1 MiB and
   * 256 KiB (with lanes holding one and a half batches, storage-consumer.ts) peaked at 167-181 MB
   * resident; 2 MiB and 512 KiB at 174-196 MB, and 4 MiB and 1 MiB at 224-228 MB.
   */
  STORAGE_FETCH_MAX_BYTES: String(1024 * 1024),
  STORAGE_FETCH_MAX_BYTES_PER_PARTITION: String(256 * 1024),
  /**
   * How long a consumer group waits for a silent member (e.g. after kill -9) before giving its
   * partitions to others; every consumer role heartbeats at a tenth of it (kafkaGroupTimings()).
   * Chosen by measurement, see docs/operations.md "Group session timeout".
   */
  KAFKA_SESSION_TIMEOUT_MS: '8000',
  /** Months of partitions created ahead of now, and months kept (0 keeps everything). */
  STORAGE_PARTITIONS_AHEAD_MONTHS: '3',
  STORAGE_RETENTION_MONTHS: '0',
  /** Events further than this from now are rejected as implausible (clock bugs, unit mix-ups). */
  STORAGE_MAX_FUTURE_SKEW_MS: String(24 * 3600 * 1000),
  STORAGE_MAX_PAST_AGE_DAYS: '400',
  /** Largest accepted metadata map, in bytes of its JSON form. */
  STORAGE_MAX_METADATA_BYTES: '16384',

  /** `run` also applies migrations and creates topics first (the local all-in-one run; same as `run --setup`). */
  FINOPS_SETUP_ON_RUN: 'false',
  /** A role started before its dependencies answer waits, retrying with backoff from the first to the cap. */
  STARTUP_RETRY_INITIAL_MS: '250',
  STARTUP_RETRY_MAX_MS: '5000',

  /** Port serving /metrics, /health and /ready for consumer roles. */
  METRICS_PORT: '9464',
  LOG_LEVEL: 'info',

  /** SDK pricing: what to do with a model that has no known price: 'flag' (store, marked) or 'reject'. */
  PRICING_UNKNOWN_MODEL: 'flag',
  /**
   * JSON object of per-model overrides in USD per million tokens, e.g. {"my-model":{"input_mtok":"1.5","output_mtok":"2"}};
   * cache_read_mtok, cache_write_mtok and cache_write_1h_mtok are optional. A model may take a list of effective-dated ones:
   * [{"input_mtok":"2","output_mtok":"8","effective_from":"2026-03-01T00:00:00Z","effective_to":"2026-04-01T00:00:00Z"}, ...].
   */
  PRICING_MODEL_OVERRIDES: '{}',
  /**
   * A newer LLM price table than the bundled one, in genai-prices' data.json shape (a JSON array of
   * providers): a file path, or an http(s) URL the deployment controls (read at start-up). Empty: bundled table.
   */
  PRICING_TABLE_FILE: '',
  PRICING_TABLE_URL: '',
  /** FOCUS export (docs/ledger.md): the billing account and invoice issuer every row names, and Postgres work_mem for its aggregation. */
  FOCUS_BILLING_ACCOUNT_ID: 'finops-ledger',
  FOCUS_BILLING_ACCOUNT_NAME: 'FinOps cost ledger',
  FOCUS_INVOICE_ISSUER_NAME: 'FinOps cost ledger',
  FOCUS_EXPORT_WORK_MEM: '128MB',
  /** The version stamped on events priced from PRICING_TABLE_FILE/URL; empty: "table-" + the first 12 hex digits of its SHA-256. */
  PRICING_TABLE_VERSION: '',
  /** OpenCost's published default on-demand rates. */
  PRICING_CPU_USD_PER_CORE_HOUR: '0.031611',
  PRICING_MEMORY_USD_PER_GB_HOUR: '0.004237',
  /** JSON object of USD per vector-DB unit by operation. */
  PRICING_VECTOR_DB_USD_PER_UNIT: '{"query":"0.000004","upsert":"0.000002","delete":"0.000001","fetch":"0.000001"}',

  /**
   * SDK producer batching. Kafka's own client has no linger, so the SDK batches. Larger batches
   * mean fewer round trips (one request is in flight at a time, as idempotence requires); keep a
   * partition's share of a batch under the broker's message.max.bytes (1 MB) after compression.
   */
  SDK_LINGER_MS: '5',
  SDK_MAX_BATCH_EVENTS: '4000',
  /** Events buffered before track*() callers wait for room (bounded memory). */
  SDK_MAX_BUFFERED_EVENTS: '50000',
  /**
   * none | gzip | snappy | lz4 | zstd. lz4 by measurement (`npm run bench:codecs`, 200,000 cost
   * events of 282 bytes in 4,000-message batches, SDK producer settings, two runs in opposite
   * orders; the codec run first pays for warming up): process CPU µs per message none 32.0 / 23.7,
   * gzip 43.7 / 35.3, snappy 26.1 / 25.2, lz4 24.8 / 25.0, zstd 26.9 / 30.9; messages/s in the
   * quieter run none 41k, lz4 41k, zstd 34k, snappy 31k, gzip 24k; record-set bytes per message
   * none 303, lz4 155, snappy 153, gzip 96, zstd 96. lz4 halves the bytes for about 1 µs per event
   * over none; zstd is the choice where a third of the bytes matters more than 2-6 µs per event.
   */
  SDK_COMPRESSION: 'lz4',
  /**
   * How long a track*() call waits for Kafka's acknowledgement (in the buffer, waiting for room
   * and in flight) before it fails with DeliveryTimeoutError; as Java's delivery.timeout.ms.
   * Meanwhile the SDK keeps resending, so a broker outage shorter than this loses no call.
   */
  SDK_DELIVERY_TIMEOUT_MS: '120000',

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

  // ── API (query REST service, role `api`) ─────────────────────────────────────────────────────
  API_PORT: '8080',
  API_HOST: '0.0.0.0',
  /** JSON array of bearer tokens: [{"token":"…","scopes":["read"|"operator"],"name":"who"}]; operator implies read. */
  API_TOKENS: '',
  /** Comma-separated tokens with the read scope, and with the operator scope (alternative to API_TOKENS). */
  API_READ_TOKENS: '',
  API_OPERATOR_TOKENS: '',
  /** Comma-separated tokens with the ingest scope (POST /events on the `ingest` role); or "ingest" in API_TOKENS scopes. */
  API_INGEST_TOKENS: '',
  /** Cache-aside TTL for post breakdowns, summaries and date-range breakdowns. */
  API_CACHE_TTL_SECONDS: '300',
  API_CACHE_PREFIX: 'finops:api:',
  /** A Redis call slower than this is abandoned and the request is served from Postgres. */
  API_REDIS_TIMEOUT_MS: '100',
  /** Target cost per post when persona_targets has no row for the persona. */
  API_TARGET_COST_PER_POST_USD: '0.02',
  /** Longest accepted /costs/breakdown range, in days. */
  API_MAX_RANGE_DAYS: '366',
  /** Audit-trail page size when the request gives no limit (max 1000). */
  API_DEFAULT_PAGE_LIMIT: '100',
  API_STATEMENT_TIMEOUT_MS: '5000',
  /**
   * Port serving the API process's /metrics, apart from API_PORT so a NetworkPolicy can admit scrapes
   * from the monitoring namespace only. Empty: METRICS_PORT (the ops server every role process runs).
   */
  API_METRICS_PORT: '',
  /**
   * Key (at least 32 characters) signing pagination cursors (HMAC-SHA256), shared by every API replica.
   * Empty: derived from the configured tokens (same on every replica with the same tokens; cursors
   * then stop working when tokens change, and the client starts again from the first page).
   */
  API_CURSOR_SECRET: '',
  /** Largest accepted request body; the API's bodies are a few hundred bytes. */
  API_BODY_LIMIT_BYTES: '16384',
  /** Whole request (headers and body) must arrive within this; a slow or stalled client gets 408. */
  API_REQUEST_TIMEOUT_MS: '10000',
  /** Headers must arrive within this (slowloris). */
  API_HEADERS_TIMEOUT_MS: '5000',
  /** An idle keep-alive connection is closed after this. */
  API_KEEP_ALIVE_TIMEOUT_MS: '5000',
  /** A socket with no traffic either way for this long is destroyed. */
  API_CONNECTION_TIMEOUT_MS: '30000',
  /** Largest accepted request head (request line and headers); larger gets 431. */
  API_MAX_HEADER_BYTES: '16384',
  /** Requests per API_RATE_LIMIT_WINDOW_MS per bearer token (counted in Redis across replicas; 0 disables). */
  API_RATE_LIMIT_MAX: '3000',
  /** Requests per window per client address for requests without a known token (failed auth, probes). */
  API_RATE_LIMIT_ANONYMOUS_MAX: '60',
  API_RATE_LIMIT_WINDOW_MS: '60000',
  /** Retry-After sent with a 503 when Postgres or Redis is unavailable. */
  API_RETRY_AFTER_SECONDS: '5',
  /** A response larger than this is served but not cached (bounds what one request can write to Redis). */
  API_CACHE_MAX_ENTRY_BYTES: '262144',
  /**
   * Redis holding the API cache (and rate-limit counters); empty: REDIS_URL. A dedicated instance can
   * run with maxmemory and allkeys-lru, which the control state in REDIS_URL must never be under.
   */
  API_CACHE_REDIS_URL: '',

  // ── HTTP ingest (role `ingest`: POST /events; tokens with the ingest scope from API_TOKENS / API_INGEST_TOKENS) ──
  INGEST_PORT: '8081',
  INGEST_HOST: '0.0.0.0',
  /** Most cost events in one POST /events; a larger batch is refused whole (413). */
  INGEST_MAX_BATCH: '1000',
  /** Largest accepted request body (a 1,000-event batch of typical events is about 400 KB). */
  INGEST_BODY_LIMIT_BYTES: '2097152',
  /**
   * How long a request waits for Kafka to acknowledge its events before it is answered 503 (retry
   * with the same event ids). Below INGEST_REQUEST_TIMEOUT_MS, so the answer always comes.
   */
  INGEST_DELIVERY_TIMEOUT_MS: '15000',
  /** Whole request (headers and body) must arrive within this. */
  INGEST_REQUEST_TIMEOUT_MS: '30000',
  /** Requests per INGEST_RATE_LIMIT_WINDOW_MS per bearer token (counted in Redis across replicas; 0 disables). */
  INGEST_RATE_LIMIT_MAX: '6000',
  /** Requests per window per client address without a known token. */
  INGEST_RATE_LIMIT_ANONYMOUS_MAX: '60',
  INGEST_RATE_LIMIT_WINDOW_MS: '60000',
  /** Key prefix of the ingest rate-limit counters in Redis (REDIS_URL). */
  INGEST_REDIS_PREFIX: 'finops:ingest:',
  /** Producer batching of the ingest role (as SDK_LINGER_MS / SDK_MAX_BATCH_EVENTS; the SDK's settings otherwise). */
  INGEST_LINGER_MS: '2',
  INGEST_MAX_BATCH_EVENTS: '4000',
  /** Events buffered in each producer before requests wait for room (bounded memory). */
  INGEST_MAX_BUFFERED_EVENTS: '20000',
  /** Idempotent producers of the role (one request in flight each); a request's events go to one of them, round robin. */
  INGEST_PRODUCERS: '2',

  // ── Alerts (consumers/alerts) ──────────────────────────────────────────────────────────────
  ALERT_GROUP_ID: 'finops-alerts',
  /** Seed routing: severity → channels (slack, pagerduty, email). */
  ALERT_SEVERITY_ROUTING: '{"critical":["slack","pagerduty","email"],"high":["slack","pagerduty"],"medium":["slack"],"low":["email"]}',
  /** Rules tried in order before the severity routing; the first match wins. JSON array of
   *  {"match":{"severity":[..],"anomaly_type":[..],"persona_id":[..]},"channels":[..]}; persona ids may end in *. */
  ALERT_ROUTES: '[]',
  /** Slack incoming-webhook URL (a secret); empty disables the channel. */
  ALERT_SLACK_WEBHOOK_URL: '',
  ALERT_PAGERDUTY_URL: 'https://events.pagerduty.com/v2/enqueue',
  /** PagerDuty Events API v2 integration (routing) key (a secret); empty disables the channel. */
  ALERT_PAGERDUTY_ROUTING_KEY: '',
  /** SMTP URL for nodemailer, e.g. smtps://user:pass@smtp.example.com:465; empty disables email. */
  ALERT_SMTP_URL: '',
  ALERT_EMAIL_FROM: 'finops-alerts@localhost',
  /** Comma-separated recipients. */
  ALERT_EMAIL_TO: '',
  ALERT_SLACK_TIMEOUT_MS: '3000',
  ALERT_PAGERDUTY_TIMEOUT_MS: '3000',
  ALERT_EMAIL_TIMEOUT_MS: '10000',
  /** Attempts per delivery before it goes to the dead-letter topic. */
  ALERT_MAX_ATTEMPTS: '6',
  ALERT_RETRY_INITIAL_MS: '200',
  ALERT_RETRY_MAX_MS: '10000',
  /** Repeats for one persona and type within this interval fold into one summary with a count (0: never fold). */
  ALERT_GROUP_INTERVAL_MS: '300000',
  /**
   * An anomaly that escalates again within this long of its last notice sends one follow-up, at the
   * highest severity, when the interval ends (0: every escalation at once). The first notice is never
   * held. 3 s: one spike's escalations arrive within about a second (docs/alerts-and-controls.md).
   */
  ALERT_ESCALATION_COALESCE_MS: '3000',
  /** How long a delivered (anomaly state, channel) is remembered so a redelivery never notifies twice. */
  ALERT_DEDUP_TTL_SECONDS: '604800',
  /** A delivery claimed by a worker that died is retried by another after this long. */
  ALERT_CLAIM_TTL_MS: '120000',
  /** Deliveries in flight per channel; a slow channel fills only its own slots. */
  ALERT_CHANNEL_CONCURRENCY: '16',
  /** How often the alert consumer commits, sends closed group summaries and due follow-ups. */
  ALERT_TICK_MS: '200',
  /** Anomalies whose deliveries may be in flight at once before the alert consumer pauses fetching. */
  ALERT_MAX_IN_FLIGHT: '500',

  // ── Circuit breaker (consumers/breaker) and the SDK's CostGuard ───────────────────────────
  BREAKER_GROUP_ID: 'finops-breaker',
  BREAKER_SPIKE_MULTIPLIER: '3',
  BREAKER_BUDGET_PERCENT: '90',
  /** Budget use at which a persona is paused at once rather than throttled (the budget is spent). */
  BREAKER_BUDGET_PAUSE_PERCENT: '100',
  BREAKER_ROI_PERCENT: '-60',
  /** Throttle rate by the highest triggering severity, requests per minute. */
  BREAKER_THROTTLE_RPM: '{"critical":10,"high":20,"medium":35,"low":50}',
  BREAKER_MODEL_MAP: '{"gpt-4o":"gpt-3.5-turbo-0125","gpt-4":"gpt-3.5-turbo-0125"}',
  BREAKER_PAUSE_SECONDS: '3600',
  /** A further trigger escalates one level only if the current level has held this long. */
  BREAKER_ESCALATE_MIN_INTERVAL_MS: '10000',
  /** No trigger for this long starts recovery (half-open probing). */
  BREAKER_COOLDOWN_SECONDS: '900',
  BREAKER_PROBE_SECONDS: '300',
  BREAKER_PROBE_RPM: '50',
  /** A control lapses this long after its last change (or its pause end) if the breaker is gone. */
  BREAKER_CONTROL_TTL_SECONDS: '7200',
  BREAKER_TICK_MS: '500',
  /** Channels paged when a persona reaches the `page` level. */
  BREAKER_PAGE_CHANNELS: 'pagerduty,slack',
  /**
   * Where and how the breaker pages (src/notify, under BREAKER_GROUP_ID). Each BREAKER_PAGE_<knob> left
   * empty takes ALERT_<knob>, so pages go to the alert channels unless these are set.
   */
  BREAKER_PAGE_SLACK_WEBHOOK_URL: '',
  BREAKER_PAGE_SLACK_TIMEOUT_MS: '',
  BREAKER_PAGE_PAGERDUTY_URL: '',
  BREAKER_PAGE_PAGERDUTY_ROUTING_KEY: '',
  BREAKER_PAGE_PAGERDUTY_TIMEOUT_MS: '',
  BREAKER_PAGE_SMTP_URL: '',
  BREAKER_PAGE_EMAIL_FROM: '',
  BREAKER_PAGE_EMAIL_TO: '',
  BREAKER_PAGE_EMAIL_TIMEOUT_MS: '',
  BREAKER_PAGE_MAX_ATTEMPTS: '',
  BREAKER_PAGE_RETRY_INITIAL_MS: '',
  BREAKER_PAGE_RETRY_MAX_MS: '',
  BREAKER_PAGE_CLAIM_TTL_MS: '',
  BREAKER_PAGE_DEDUP_TTL_SECONDS: '',
  BREAKER_PAGE_CHANNEL_CONCURRENCY: '',
  /** CostGuard when Redis is unreachable: open (allow, use the last known control) or closed (refuse). */
  GUARD_REDIS_FAILURE_POLICY: 'open',
  /** Longest a cached control is trusted without a pub/sub notice. */
  GUARD_CACHE_TTL_MS: '1000',
  /** A throttled call waits for its token up to this long, else it is refused with ThrottledError. */
  GUARD_MAX_WAIT_MS: '2000',
  /** Token-bucket burst, in seconds of the throttled rate (at least one request). */
  GUARD_BURST_SECONDS: '6',
  GUARD_REDIS_TIMEOUT_MS: '250',

  // ── Anomaly detection (consumers/anomaly; see docs/anomaly-detection.md) ───────────────────
  ANOMALY_GROUP_ID: 'finops-anomaly',
  /** Tumbling event-time window per persona; baselines are made of the previous closed windows. */
  ANOMALY_WINDOW_MS: '60000',
  /** A window closes this long (of event time) after its end; later events still count for budgets and posts. */
  ANOMALY_ALLOWED_LATENESS_MS: '5000',
  /** Event times further ahead of the wall clock than this are windowed at wall clock + this. */
  ANOMALY_MAX_CLOCK_SKEW_MS: '60000',
  /** Closed windows with spend the spike baseline (median) looks back over. */
  ANOMALY_BASELINE_WINDOWS: '60',
  /** Fewer closed windows with spend than this: no baseline yet, no spike verdict. */
  ANOMALY_MIN_BASELINE_WINDOWS: '5',
  /** Baselines (USD per window) below this page nobody; nor do windows spending less than the minimum spend. */
  ANOMALY_MIN_BASELINE_USD: '0.01',
  ANOMALY_MIN_SPEND_USD: '0.05',
  ANOMALY_SPIKE_MULTIPLIER: '3',
  ANOMALY_SPIKE_HIGH_MULTIPLIER: '3.5',
  ANOMALY_SPIKE_CRITICAL_MULTIPLIER: '5',
  /** engagements | follows: the outcome efficiency is measured in (per USD). */
  ANOMALY_EFFICIENCY_BASIS: 'engagements',
  ANOMALY_EFFICIENCY_DROP_PERCENT: '30',
  ANOMALY_EFFICIENCY_HIGH_DROP_PERCENT: '50',
  ANOMALY_EFFICIENCY_CRITICAL_DROP_PERCENT: '75',
  /**
   * Efficiency and ROI are judged per post cohort: the posts whose first cost falls in one
   * ANOMALY_COHORT_MS period of event time, each post's cost against that post's own outcomes.
   * A cohort is judged once its posts are mature: ANOMALY_OUTCOME_HORIZON_MS of event time after
   * the period's end, or as soon as the period has ended and every post in it sent a final outcome.
   * Outcomes arriving later no longer count. Detection time = period end + horizon + lateness +
   * tick. One hour by default: see docs/anomaly-detection.md for why.
   */
  ANOMALY_OUTCOME_HORIZON_MS: '3600000',
  ANOMALY_COHORT_MS: '300000',
  /** Earlier judged cohorts the efficiency baseline (ratio of sums) is made of. */
  ANOMALY_BASELINE_COHORTS: '12',
  /** Earlier cohorts with outcomes a persona needs before its efficiency or ROI is judged. */
  ANOMALY_MIN_BASELINE_COHORTS: '3',
  /** A cohort (and the baseline) needs this many mature posts with outcomes; a shorter cohort is merged into the next. */
  ANOMALY_COHORT_MIN_POSTS: '5',
  /** The cohort must hold at least this many engagements (or follows) for an efficiency verdict. */
  ANOMALY_COHORT_MIN_ACTIONS: '10',
  /** The baseline cohorts must hold at least this many engagements (or follows) for an efficiency verdict. */
  ANOMALY_MIN_BASELINE_ACTIONS: '10',
  ANOMALY_ROI_PERCENT: '-50',
  ANOMALY_ROI_HIGH_PERCENT: '-75',
  ANOMALY_ROI_CRITICAL_PERCENT: '-90',
  ANOMALY_BUDGET_PERCENT: '80',
  ANOMALY_BUDGET_HIGH_PERCENT: '90',
  ANOMALY_BUDGET_CRITICAL_PERCENT: '100',
  /** Target cost per post when persona_targets has no row; a post costing more than target × multiplier is an anomaly. */
  ANOMALY_POST_TARGET_USD: '0.02',
  ANOMALY_POST_MULTIPLIER: '2',
  ANOMALY_POST_HIGH_MULTIPLIER: '4',
  ANOMALY_POST_CRITICAL_MULTIPLIER: '10',
  /** Posts and personas without events for this long (event time) are evicted; evicting a flagged post resolves it. */
  ANOMALY_POST_IDLE_MS: '3600000',
  ANOMALY_PERSONA_IDLE_MS: '7200000',
  /** Hard bound on posts held; beyond it the least recently seen are evicted. */
  ANOMALY_MAX_POSTS: '200000',
  /** Wall-clock timer that closes windows of quiet partitions and resolves anomalies. */
  ANOMALY_TICK_MS: '200',
  /** State checkpoint (Postgres) and offset commit interval. */
  ANOMALY_CHECKPOINT_INTERVAL_MS: '5000',
  /** Budgets and per-persona post targets are re-read from Postgres this often. */
  ANOMALY_REFERENCE_REFRESH_MS: '5000',
  ANOMALY_MAX_TRIGGERING_IDS: '10',
  /**
   * Cost event ids remembered per partition, so a second arrival of an id (a caller's retry with
   * another event time, a redelivery, a replay) counts once in budgets, windows and post totals.
   * The most recent ANOMALY_RECENT_IDS_PER_PARTITION / 2 to ANOMALY_RECENT_IDS_PER_PARTITION ids are
   * held (~25 bytes each with the hash tables' slack, ~11 bytes each in a checkpoint); an id older
   * than that counts again.
   */
  ANOMALY_RECENT_IDS_PER_PARTITION: '50000',
  /**
   * Seasonal spike baselines (docs/anomaly-detection.md): on, a window is judged against the median
   * of its hour-of-week bucket over the last ANOMALY_SEASONAL_WEEKS weeks (the same hour of earlier
   * days while a bucket has no earlier week; the rolling median while there is neither). Per persona
   * or team it can be turned on or off in the table anomaly_seasonal_settings.
   */
  ANOMALY_SEASONAL: 'on',
  /** Weeks of hour-of-week history kept per persona: 168 × weeks × 6 bytes (4 032 bytes for 4). */
  ANOMALY_SEASONAL_WEEKS: '4',
  /** Earlier weeks a bucket needs before its own median is used (else the hour-of-day profile). */
  ANOMALY_SEASONAL_MIN_WEEKS: '1',
  /** A seasonal spike must also exceed the bucket median by this many robust deviations (1.4826 × MAD). */
  ANOMALY_SEASONAL_SPREAD_Z: '3',
  /**
   * Burn-rate forecast of scoped budgets (a discounted least-squares line through the spend per
   * minute, weights halving every ANOMALY_FORECAST_HALF_LIFE_MINUTES): budget_forecast
   * fires when the projected period spend is at least the limit plus this margin, after at least
   * ANOMALY_FORECAST_MIN_MINUTES minutes of spend, and resolves when it falls back below the limit.
   */
  ANOMALY_FORECAST_MARGIN_PERCENT: '10',
  ANOMALY_FORECAST_MIN_MINUTES: '30',
  ANOMALY_FORECAST_HALF_LIFE_MINUTES: '240',
  /**
   * Fetch sizes of the anomaly consumer. Fetched bytes wait in memory until processed, so they count
   * against the pod's memory; 1 MiB a fetch (256 KiB per partition) keeps ~30k events/s on one core.
   */
  ANOMALY_FETCH_MAX_BYTES: '1048576',
  ANOMALY_FETCH_MAX_BYTES_PER_PARTITION: '262144',
} as const;

export type SettingName = keyof typeof defaults;
