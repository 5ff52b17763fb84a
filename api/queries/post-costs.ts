import type { Pool } from 'pg';
import { CostType } from '../../src/events';
import { formatUsd, nanoFromNumericText } from '../../src/money';
import { eventConfidenceBp, bpToScore, Factor, summarize, TraitGroup, AccuracySummary } from '../accuracy';
import { COST_TYPES, efficiencyRating, EfficiencyRating, primaryCostType } from '../efficiency';
import type { CursorSigner } from '../cursor';
import { Cursor, encodeCursor } from '../validation';

interface PostRow {
  persona_id: string;
  total_usd: string;
  adjustment_usd: string;
  openai_api_usd: string;
  kubernetes_usd: string;
  vector_db_usd: string;
  other_usd: string;
  event_count: string;
  unpriced_event_count: string;
  first_event_at: Date;
  last_event_at: Date;
  target_usd: string | null;
}

// post_costs is a view summing the post's events (sql/090), read through their (post_id, event_time) index.
const POST_SQL = `
SELECT p.persona_id, p.total_usd, p.adjustment_usd, p.openai_api_usd, p.kubernetes_usd, p.vector_db_usd, p.other_usd,
       p.event_count, p.unpriced_event_count, p.first_event_at, p.last_event_at,
       t.target_cost_per_post_usd AS target_usd
FROM post_costs p LEFT JOIN persona_targets t ON t.persona_id = p.persona_id
WHERE p.post_id = $1`;

// Hot queries are named (prepared once per connection, then planned from cache).
// The breakdown is one statement, one round trip: the post's rollup row, which factors its events
// carry (grouped: at most 32 groups however many events), and one audit-trail page. The events are
// read between the rollup's first and last event times, so only the partitions holding the post are
// probed (run-time pruning) instead of the post index of every monthly partition.
const HAS = (col: string) => `(${col} IS NOT NULL AND ${col} <> '')`;
const USAGE = `CASE cost_type
    WHEN 'openai_api' THEN ${HAS('model')} AND input_tokens IS NOT NULL AND output_tokens IS NOT NULL
    WHEN 'kubernetes' THEN cpu_cores IS NOT NULL AND memory_gb IS NOT NULL AND duration_ms IS NOT NULL
    WHEN 'vector_db' THEN ${HAS('vector_operation')} AND vector_units IS NOT NULL
    ELSE false END`;
const POST_EVENTS = 'e.post_id = p.post_id AND e.event_time BETWEEN p.first_event_at AND p.last_event_at';
const TRAITS = `
SELECT ${HAS('correlation_id')} AS correlation_id, ${HAS('request_id')} AS request_id,
       ${HAS('operation')} AS operation_specified, ${USAGE} AS usage_specified,
       price_status = 'priced' AS priced, count(*)::int AS count
FROM cost_events e WHERE ${POST_EVENTS}
GROUP BY 1, 2, 3, 4, 5`;
// Numbers that must stay exact (money, microseconds, numeric usage) travel as JSON strings.
const PAGE_COLUMNS = `event_id, to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS ts,
  ((extract(epoch FROM event_time) * 1000000)::bigint)::text AS t_us, cost_type, amount_usd::text AS amount_usd, model, operation, service,
  correlation_id, request_id, input_tokens, output_tokens, cached_input_tokens, cpu_cores::text AS cpu_cores, memory_gb::text AS memory_gb, duration_ms,
  vector_operation, vector_units, price_status, price_source, price_version, metadata,
  (SELECT a.new_amount_usd::text FROM cost_adjustment_entries a WHERE a.event_time = e.event_time AND a.event_id = e.event_id ORDER BY a.adjustment_id DESC LIMIT 1) AS adjusted_usd,
  ${HAS('correlation_id')} AS f_correlation_id, ${HAS('request_id')} AS f_request_id,
  ${HAS('operation')} AS f_operation_specified, ${USAGE} AS f_usage_specified`;
const PAGE_AFTER = "(e.event_time, e.event_id) > (timestamptz 'epoch' + $3::bigint * interval '1 microsecond', $4::text)";
const breakdownSql = (after: boolean) => `
SELECT p.persona_id, p.total_usd, p.adjustment_usd, p.openai_api_usd, p.kubernetes_usd, p.vector_db_usd, p.other_usd,
       p.event_count, p.unpriced_event_count, p.first_event_at, p.last_event_at,
       t.target_cost_per_post_usd AS target_usd,
       (SELECT coalesce(json_agg(g), '[]') FROM (${TRAITS}) g) AS traits,
       (SELECT coalesce(json_agg(r), '[]') FROM (
          SELECT ${PAGE_COLUMNS} FROM cost_events e
          WHERE ${POST_EVENTS}${after ? ` AND ${PAGE_AFTER}` : ''}
          ORDER BY e.event_time, e.event_id LIMIT $2) r) AS page
FROM post_costs p LEFT JOIN persona_targets t ON t.persona_id = p.persona_id
WHERE p.post_id = $1`;
const FIRST_PAGE_SQL = breakdownSql(false);
const NEXT_PAGE_SQL = breakdownSql(true);

type BreakdownRow = PostRow & { traits: (Omit<TraitGroup, 'factors'> & Record<Factor, boolean>)[]; page: PageRow[] };

type PageRow = Record<string, unknown> & {
  event_id: string;
  ts: string;
  t_us: string;
  cost_type: CostType;
  amount_usd: string;
  price_status: string;
};

function byType(row: PostRow): Record<CostType, bigint> {
  return {
    openai_api: nanoFromNumericText(row.openai_api_usd),
    kubernetes: nanoFromNumericText(row.kubernetes_usd),
    vector_db: nanoFromNumericText(row.vector_db_usd),
    other: nanoFromNumericText(row.other_usd),
  };
}

const num = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));
const str = (v: unknown) => (v === null || v === undefined || v === '' ? undefined : String(v));

function auditEntry(r: PageRow) {
  const factors = (['correlation_id', 'request_id', 'operation_specified', 'usage_specified'] as Factor[]).filter((f) => r[`f_${f}`] === true);
  const confidence = bpToScore(eventConfidenceBp({ factors, priced: r.price_status === 'priced' }));
  return {
    event_id: r.event_id,
    timestamp: r.ts,
    cost_type: r.cost_type,
    cost_amount: formatUsd(nanoFromNumericText(r.amount_usd)),
    // The amount after re-pricing adjustments (docs/ledger.md); equal to cost_amount when never adjusted.
    adjusted_amount: formatUsd(nanoFromNumericText((r.adjusted_usd as string | null) ?? r.amount_usd)),
    price_status: r.price_status,
    confidence,
    factors,
    metadata: {
      model: str(r.model),
      operation: str(r.operation),
      service: str(r.service),
      correlation_id: str(r.correlation_id),
      request_id: str(r.request_id),
      input_tokens: num(r.input_tokens),
      output_tokens: num(r.output_tokens),
      cached_input_tokens: num(r.cached_input_tokens),
      cpu_cores: str(r.cpu_cores),
      memory_gb: str(r.memory_gb),
      duration_ms: num(r.duration_ms),
      vector_operation: str(r.vector_operation),
      vector_units: num(r.vector_units),
      price_source: r.price_source,
      price_version: r.price_version,
      attributes: r.metadata,
    },
  };
}

export interface PostBreakdown {
  post_id: string;
  persona_id: string;
  total_cost: string;
  list_cost: string;
  adjustment: string;
  cost_breakdown: Record<CostType, string>;
  event_count: number;
  first_event_at: string;
  last_event_at: string;
  accuracy_score: number | null;
  accuracy_details: AccuracySummary & { confidence_factors: { event_id: string; event_timestamp: string; factors: Factor[]; confidence: number }[] };
  audit_trail: ReturnType<typeof auditEntry>[];
  page: { limit: number; next_cursor: string | null };
}

export async function postBreakdown(pool: Pool, postId: string, limit: number, cursor: Cursor | null, signer: CursorSigner): Promise<PostBreakdown | null> {
  const result = cursor
    ? await pool.query<BreakdownRow>({ name: 'api-post-breakdown-next', text: NEXT_PAGE_SQL, values: [postId, limit + 1, cursor.timeMicros, cursor.eventId] })
    : await pool.query<BreakdownRow>({ name: 'api-post-breakdown', text: FIRST_PAGE_SQL, values: [postId, limit + 1] });
  const row = result.rows[0];
  if (!row) return null;
  const groups: TraitGroup[] = row.traits.map((g) => ({
    factors: (['correlation_id', 'request_id', 'operation_specified', 'usage_specified'] as Factor[]).filter((f) => g[f]),
    priced: g.priced,
    count: g.count,
  }));
  const rows = row.page.slice(0, limit);
  const audit = rows.map(auditEntry);
  const last = rows[rows.length - 1];
  const types = byType(row);
  const accuracy = summarize(groups);
  return {
    post_id: postId,
    persona_id: row.persona_id,
    total_cost: formatUsd(nanoFromNumericText(row.total_usd) + nanoFromNumericText(row.adjustment_usd)),
    list_cost: formatUsd(nanoFromNumericText(row.total_usd)),
    adjustment: formatUsd(nanoFromNumericText(row.adjustment_usd)),
    cost_breakdown: Object.fromEntries(COST_TYPES.map((t) => [t, formatUsd(types[t])])) as Record<CostType, string>,
    event_count: Number(row.event_count),
    first_event_at: row.first_event_at.toISOString(),
    last_event_at: row.last_event_at.toISOString(),
    accuracy_score: accuracy.accuracy_score,
    accuracy_details: {
      ...accuracy,
      confidence_factors: audit.map((a) => ({ event_id: a.event_id, event_timestamp: a.timestamp, factors: a.factors, confidence: a.confidence })),
    },
    audit_trail: audit,
    page: { limit, next_cursor: row.page.length > limit && last ? encodeCursor({ timeMicros: String(last.t_us), eventId: last.event_id }, signer, postId) : null },
  };
}

export interface PostSummary {
  post_id: string;
  persona_id: string;
  /** Adjusted (list + re-pricing adjustments); list_cost is what the events were priced at. */
  total_cost: string;
  list_cost: string;
  adjustment: string;
  event_count: number;
  primary_cost_type: CostType | null;
  target_cost: string;
  target_source: 'persona_targets' | 'default';
  cost_to_target_ratio: number;
  cost_efficiency_rating: EfficiencyRating;
}

export async function postSummary(pool: Pool, postId: string, defaultTargetNano: bigint): Promise<PostSummary | null> {
  const row = (await pool.query<PostRow>({ name: 'api-post', text: POST_SQL, values: [postId] })).rows[0];
  if (!row) return null;
  const list = nanoFromNumericText(row.total_usd);
  const total = list + nanoFromNumericText(row.adjustment_usd);
  const target = row.target_usd !== null ? nanoFromNumericText(row.target_usd) : defaultTargetNano;
  return {
    post_id: postId,
    persona_id: row.persona_id,
    total_cost: formatUsd(total),
    list_cost: formatUsd(list),
    adjustment: formatUsd(total - list),
    event_count: Number(row.event_count),
    primary_cost_type: primaryCostType(byType(row)),
    target_cost: formatUsd(target),
    target_source: row.target_usd !== null ? 'persona_targets' : 'default',
    // display only: 4 decimals, half-up, computed in integers
    cost_to_target_ratio: Number((total * 10_000n * 2n + target) / (2n * target)) / 10_000,
    cost_efficiency_rating: efficiencyRating(total, target),
  };
}
