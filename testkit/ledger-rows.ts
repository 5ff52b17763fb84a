import type { Pool } from 'pg';

/**
 * Writes synthetic ledger rows straight into Postgres, set-based (INSERT … SELECT over
 * generate_series), with the rollups the storage consumer would have kept: for tests and the
 * ledger benchmark, which need 1e5–1e7 events faster than Kafka can carry them. Values come from
 * hashes of the row number, so a (prefix, count) always yields the same rows.
 *
 * 60 % LLM events (models from `models`, tokens up to 50,000 in / 8,000 out / 100 cached, priced
 * at $3 / $11 per million tokens under version "gen-old:openai/<model>"), 20 % Kubernetes
 * (OpenCost's default rates), 20 % vector-DB ($0.000004 a unit), each recording its unit prices, over `personas` personas and `posts` posts, event times spread over `spanMs`.
 */
export interface LedgerRowsSpec {
  prefix: string;
  count: number;
  start: Date;
  spanMs: number;
  personas?: number;
  posts?: number;
  models?: string[];
  /** Rows per INSERT statement (one transaction each). */
  chunk?: number;
  onChunk?: (written: number) => void;
}

export const DEFAULT_MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-3.5-turbo-0125', 'o3-mini'];

const INSERT_SQL = `
INSERT INTO cost_events (event_id, event_time, cost_type, amount_usd, persona_id, post_id, operation, service, model,
  input_tokens, output_tokens, cached_input_tokens, cpu_cores, memory_gb, duration_ms, vector_operation, vector_units,
  price_source, price_version, price_status, unit_prices)
SELECT md5($1 || i)::uuid::text, $2::timestamptz + (h.t % $3::bigint) * interval '1 millisecond', v.cost_type,
  CASE v.cost_type
    WHEN 'openai_api' THEN (v.input_tokens * 3 + v.output_tokens * 11) * 0.000001
    WHEN 'kubernetes' THEN round((v.cpu_cores * 0.031611 + v.memory_gb * 0.004237) * v.duration_ms / 3600000, 9)
    ELSE v.vector_units * 0.000004 END,
  $1 || '-persona-' || (i % $4), $1 || '-post-' || (i % $5), 'generate', 'ledger-rows',
  v.model, v.input_tokens, v.output_tokens, v.cached_input_tokens, v.cpu_cores, v.memory_gb, v.duration_ms, v.vector_operation, v.vector_units,
  'generated',
  CASE WHEN v.cost_type = 'openai_api' THEN 'gen-old:openai/' || v.model ELSE 'gen-old' END,
  'priced',
  CASE v.cost_type
    WHEN 'openai_api' THEN '{"input_mtok": "3", "output_mtok": "11"}'::jsonb
    WHEN 'kubernetes' THEN '{"cpu_core_hour": "0.031611", "memory_gb_hour": "0.004237"}'::jsonb
    ELSE jsonb_build_object(v.vector_operation, '0.000004') END
FROM generate_series($7::bigint, $8::bigint) AS i
CROSS JOIN LATERAL (SELECT abs(hashint8(i)::bigint) AS t, abs(hashint8(i + 1000000007)::bigint) AS a,
                           abs(hashint8(i + 2000000014)::bigint) AS b, abs(hashint8(i + 3000000021)::bigint) AS c) h
CROSS JOIN LATERAL (SELECT CASE WHEN i % 10 < 6 THEN 'openai_api' WHEN i % 10 < 8 THEN 'kubernetes' ELSE 'vector_db' END AS cost_type) k
CROSS JOIN LATERAL (SELECT k.cost_type,
  CASE WHEN k.cost_type = 'openai_api' THEN ($6::text[])[1 + h.c % cardinality($6::text[])] END AS model,
  CASE WHEN k.cost_type = 'openai_api' THEN h.a % 50000 END AS input_tokens,
  CASE WHEN k.cost_type = 'openai_api' THEN h.b % 8000 END AS output_tokens,
  CASE WHEN k.cost_type = 'openai_api' THEN least(h.c % 100, h.a % 50000) END AS cached_input_tokens,
  CASE WHEN k.cost_type = 'kubernetes' THEN (h.a % 16000) * 0.001 END AS cpu_cores,
  CASE WHEN k.cost_type = 'kubernetes' THEN (h.b % 64000) * 0.001 END AS memory_gb,
  CASE WHEN k.cost_type = 'kubernetes' THEN 1 + h.c % 600000 END AS duration_ms,
  CASE WHEN k.cost_type = 'vector_db' THEN (ARRAY['query', 'upsert', 'delete', 'fetch'])[1 + h.c % 4] END AS vector_operation,
  CASE WHEN k.cost_type = 'vector_db' THEN 1 + h.a % 10000 END AS vector_units) v`;

/** Inserts the rows and their rollups; returns the count written. */
export async function writeLedgerRows(pool: Pool, spec: LedgerRowsSpec): Promise<number> {
  const chunk = spec.chunk ?? 1_000_000;
  const models = spec.models ?? DEFAULT_MODELS;
  for (let lo = 0; lo < spec.count; lo += chunk) {
    const hi = Math.min(spec.count, lo + chunk) - 1;
    await pool.query(INSERT_SQL, [spec.prefix, spec.start, spec.spanMs, spec.personas ?? 50, spec.posts ?? 5000, models, lo, hi]);
    spec.onChunk?.(hi + 1);
  }
  const like = `${spec.prefix}-persona-%`;
  await pool.query(
    `INSERT INTO persona_daily_costs (persona_id, day, cost_type, model, total_usd, event_count)
     SELECT persona_id, (event_time AT TIME ZONE 'UTC')::date, cost_type, coalesce(model, ''), sum(amount_usd), count(*)
     FROM cost_events WHERE persona_id LIKE $1 GROUP BY 1, 2, 3, 4
     ON CONFLICT (persona_id, day, cost_type, model) DO UPDATE
       SET total_usd = persona_daily_costs.total_usd + excluded.total_usd, event_count = persona_daily_costs.event_count + excluded.event_count`,
    [like],
  );
  // post_costs is a view over the events (sql/090, 091).
  return spec.count;
}
