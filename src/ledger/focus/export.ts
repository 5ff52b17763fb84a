import type { Readable } from 'node:stream';
import type { Pool, PoolClient } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { InvalidInputError } from '../../errors';
import { FOCUS_EXPORT_COLUMNS } from './columns';

export interface FocusExportRequest {
  /** Charge periods from `start` (inclusive) to `end` (exclusive); both on whole UTC hours. */
  start: Date;
  end: Date;
  personaId?: string;
  /** One row per post as well (the post goes in Tags); otherwise posts are summed into the persona's rows. */
  byPost?: boolean;
  billingAccountId: string;
  billingAccountName: string;
  invoiceIssuerName: string;
  /** Postgres work_mem for the export's aggregation (e.g. "128MB"); absent: the server's. */
  workMem?: string;
}

export function checkFocusRequest(req: FocusExportRequest): void {
  for (const [name, t] of [['start_date', req.start], ['end_date', req.end]] as const) {
    if (!(t instanceof Date) || Number.isNaN(t.getTime())) throw new InvalidInputError(`focus.${name}`, `${name} is not a valid time`);
    if (t.getTime() % 3_600_000 !== 0) throw new InvalidInputError(`focus.${name}`, `${name} ${t.toISOString()} is not on a whole UTC hour; FOCUS rows are hourly charge periods`);
  }
  if (!(req.start < req.end)) throw new InvalidInputError('focus.range', `start_date ${req.start.toISOString()} is not before end_date ${req.end.toISOString()}`);
}

const TS = (expr: string) => `to_char(${expr}, 'YYYY-MM-DD"T"HH24:MI:SS"Z"')`;
const PROVIDER_ID = `CASE WHEN split_part(price_version, ':', 2) ~ '^[A-Za-z0-9_.-]+/' AND split_part(price_version, ':', 2) NOT LIKE 'override/%'
  THEN split_part(split_part(price_version, ':', 2), '/', 1) ELSE 'openai' END`;
const PROVIDER_NAME = (id: string) => `CASE ${id} WHEN 'openai' THEN 'OpenAI' WHEN 'anthropic' THEN 'Anthropic' WHEN 'google' THEN 'Google' WHEN 'mistral' THEN 'Mistral AI'
  WHEN 'azure' THEN 'Microsoft Azure' WHEN 'aws' THEN 'Amazon Web Services' WHEN 'groq' THEN 'Groq' WHEN 'deepseek' THEN 'DeepSeek' ELSE ${id} END`;

/**
 * The export as one SQL statement, aggregated in Postgres and streamed by COPY: usage rows per
 * UTC hour × persona (× post) × service × SKU (model and token kind, CPU, memory, vector operation),
 * and Adjustment rows per hour × persona (× post) × model × target price version from the
 * re-pricing adjustments of the events in the range. A group's cost is split across its token
 * kinds (or CPU and memory) at the recorded unit prices, rounded to the nano-dollar, with the
 * rounding remainder on the last part, so every group's rows sum to the ledger's amount exactly.
 */
export function focusSql(req: FocusExportRequest): { text: string; values: unknown[] } {
  const values: unknown[] = [req.start, req.end, req.billingAccountId, req.billingAccountName, req.invoiceIssuerName];
  let persona = '';
  if (req.personaId !== undefined) {
    values.push(req.personaId);
    persona = `AND persona_id = $${values.length}`;
  }
  const post = req.byPost ? 'post_id' : 'NULL::text';
  const text = `
WITH grouped AS (
  -- Grouped by the recorded unit prices themselves; prices are read per group below. The text keys
  -- are sorted bytewise (COLLATE "C": the same groups, compared by memcmp rather than the locale).
  SELECT date_bin('1 hour', event_time, timestamptz '2000-01-01T00:00:00Z') AS hour, persona_id COLLATE "C" AS persona_id, ${post} AS post_id,
         metadata->>'team' AS team, cost_type, model COLLATE "C" AS model, vector_operation, price_version COLLATE "C" AS price_version, price_status, unit_prices,
         count(*) AS events, sum(amount_usd) AS amount, sum(input_tokens) AS all_in_tok,
         sum(least(coalesce(cached_input_tokens, 0), input_tokens)) AS cached_tok,
         sum(output_tokens) AS out_tok, sum(cpu_cores * duration_ms) AS core_ms, sum(memory_gb * duration_ms) AS gb_ms, sum(vector_units) AS units
  FROM cost_events
  WHERE event_time >= $1 AND event_time < $2 ${persona}
  GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
),
usage AS (
  SELECT g.*, unit_prices->>'input_mtok' AS in_p, unit_prices->>'output_mtok' AS out_p, unit_prices->>'cache_read_mtok' AS cache_p,
         unit_prices->>'cpu_core_hour' AS cpu_p, unit_prices->>'memory_gb_hour' AS mem_p, unit_prices->>vector_operation AS vec_p,
         -- Cached input tokens are billed at the cache-read rate only where there is one (as the SDK prices them).
         CASE WHEN unit_prices ? 'cache_read_mtok' THEN all_in_tok - cached_tok ELSE all_in_tok END AS in_tok,
         CASE WHEN unit_prices ? 'cache_read_mtok' THEN cached_tok ELSE 0 END AS cache_tok
  FROM grouped g
),
parts AS (
  -- LLM groups with unit prices: input, cached input, output (the remainder); CPU and memory (the remainder).
  SELECT u.*, k.kind, k.qty, k.unit_price, k.cost, k.pricing_unit, k.consumed_unit, k.pricing_qty
  FROM usage u
  CROSS JOIN LATERAL (
    SELECT CASE WHEN u.cost_type = 'openai_api' AND u.price_status = 'priced' AND u.in_p IS NOT NULL AND u.out_p IS NOT NULL
                THEN round(u.in_tok * u.in_p::numeric * 0.000001, 9) END AS in_c,
           CASE WHEN u.cost_type = 'openai_api' AND u.price_status = 'priced' AND u.cache_p IS NOT NULL
                THEN round(u.cache_tok * u.cache_p::numeric * 0.000001, 9) ELSE 0 END AS cache_c,
           CASE WHEN u.cost_type = 'kubernetes' AND u.cpu_p IS NOT NULL AND u.mem_p IS NOT NULL
                THEN round(u.core_ms * u.cpu_p::numeric / 3600000, 9) END AS cpu_c
  ) c
  CROSS JOIN LATERAL (
    SELECT * FROM (VALUES
      ('input', u.in_tok, u.in_p::numeric, CASE WHEN u.out_tok > 0 THEN c.in_c ELSE u.amount - c.cache_c END, '1000000 Tokens', 'Tokens', u.in_tok * 0.000001),
      ('cached_input', u.cache_tok, u.cache_p::numeric, c.cache_c, '1000000 Tokens', 'Tokens', u.cache_tok * 0.000001),
      ('output', u.out_tok, u.out_p::numeric, CASE WHEN u.out_tok > 0 THEN u.amount - c.in_c - c.cache_c ELSE 0 END, '1000000 Tokens', 'Tokens', u.out_tok * 0.000001)
    ) v(kind, qty, unit_price, cost, pricing_unit, consumed_unit, pricing_qty)
    WHERE c.in_c IS NOT NULL AND (v.kind <> 'cached_input' OR u.cache_p IS NOT NULL) AND (v.kind <> 'output' OR u.out_tok > 0 OR u.in_tok = 0)
    UNION ALL
    SELECT * FROM (VALUES
      ('cpu', round(u.core_ms / 3600000, 9), u.cpu_p::numeric, c.cpu_c, 'Core-Hours', 'Core-Hours', round(u.core_ms / 3600000, 9)),
      ('memory', round(u.gb_ms / 3600000, 9), u.mem_p::numeric, u.amount - c.cpu_c, 'GB-Hours', 'GB-Hours', round(u.gb_ms / 3600000, 9))
    ) v(kind, qty, unit_price, cost, pricing_unit, consumed_unit, pricing_qty)
    WHERE c.cpu_c IS NOT NULL
    UNION ALL
    -- One row for the rest: vector operations, and groups without unit prices (unknown models, unpriced events).
    SELECT CASE WHEN u.cost_type = 'vector_db' THEN coalesce(u.vector_operation, 'unknown') WHEN u.cost_type = 'kubernetes' THEN 'compute' ELSE 'tokens' END,
           CASE WHEN u.cost_type = 'vector_db' THEN u.units WHEN u.cost_type = 'openai_api' THEN u.in_tok + u.cache_tok + u.out_tok END,
           CASE WHEN u.cost_type = 'vector_db' AND u.price_status = 'priced' THEN u.vec_p::numeric END,
           u.amount,
           CASE WHEN u.cost_type = 'vector_db' THEN 'Units' WHEN u.cost_type = 'openai_api' THEN '1000000 Tokens' END,
           CASE WHEN u.cost_type = 'vector_db' THEN 'Units' WHEN u.cost_type = 'openai_api' THEN 'Tokens' END,
           CASE WHEN u.cost_type = 'vector_db' THEN u.units WHEN u.cost_type = 'openai_api' THEN (u.in_tok + u.cache_tok + u.out_tok) * 0.000001 END
    WHERE c.in_c IS NULL AND c.cpu_c IS NULL
  ) k
),
adjustments AS (
  SELECT date_bin('1 hour', event_time, timestamptz '2000-01-01T00:00:00Z') AS hour, persona_id, ${post} AS post_id, cost_type, model, target_version,
         new_price_version AS price_version, count(*) AS events, sum(new_amount_usd - old_amount_usd) AS delta
  FROM cost_adjustments
  WHERE event_time >= $1 AND event_time < $2 ${persona}
  GROUP BY 1, 2, 3, 4, 5, 6, 7
),
charges AS (
  SELECT hour, persona_id, post_id, team, cost_type, model, vector_operation, price_version, price_status, 'Usage' AS category, kind,
         qty, unit_price, cost, pricing_unit, consumed_unit, pricing_qty, events, NULL::text AS target_version
  FROM parts
  UNION ALL
  SELECT hour, persona_id, post_id, NULL, cost_type, model, NULL, price_version, 'priced', 'Adjustment', NULL,
         NULL, NULL, delta, NULL, NULL, NULL, events, target_version
  FROM adjustments
)
SELECT
  cost AS "BilledCost", $3::text AS "BillingAccountId", $4::text AS "BillingAccountName", 'USD' AS "BillingCurrency",
  ${TS("date_trunc('month', hour) + interval '1 month'")} AS "BillingPeriodEnd", ${TS("date_trunc('month', hour)")} AS "BillingPeriodStart",
  category AS "ChargeCategory", NULL::text AS "ChargeClass",
  CASE WHEN category = 'Adjustment' THEN 'Re-pricing of ' || coalesce(model, cost_type) || ' to price version ' || target_version
       WHEN cost_type = 'openai_api' THEN coalesce(model, 'unknown model') || ' ' || replace(kind, '_', ' ') || CASE WHEN kind = 'tokens' THEN '' ELSE ' tokens' END
       WHEN cost_type = 'kubernetes' THEN 'Kubernetes ' || kind
       ELSE 'Vector DB ' || kind || ' operations' END AS "ChargeDescription",
  CASE WHEN category = 'Adjustment' THEN 'One-Time' ELSE 'Usage-Based' END AS "ChargeFrequency",
  ${TS("hour + interval '1 hour'")} AS "ChargePeriodEnd", ${TS('hour')} AS "ChargePeriodStart",
  qty AS "ConsumedQuantity", consumed_unit AS "ConsumedUnit", cost AS "ContractedCost", unit_price AS "ContractedUnitPrice", cost AS "EffectiveCost",
  $5::text AS "InvoiceIssuerName", cost AS "ListCost", unit_price AS "ListUnitPrice",
  CASE WHEN category = 'Usage' THEN 'Standard' END AS "PricingCategory", pricing_qty AS "PricingQuantity", pricing_unit AS "PricingUnit",
  CASE cost_type WHEN 'openai_api' THEN ${PROVIDER_NAME(PROVIDER_ID)} WHEN 'kubernetes' THEN 'Kubernetes' ELSE 'Vector DB' END AS "ProviderName",
  CASE cost_type WHEN 'openai_api' THEN ${PROVIDER_NAME(PROVIDER_ID)} WHEN 'kubernetes' THEN 'Kubernetes' ELSE 'Vector DB' END AS "PublisherName",
  CASE cost_type WHEN 'openai_api' THEN 'AI and Machine Learning' WHEN 'kubernetes' THEN 'Compute' ELSE 'Databases' END AS "ServiceCategory",
  CASE cost_type WHEN 'openai_api' THEN 'LLM API' WHEN 'kubernetes' THEN 'Kubernetes' ELSE 'Vector DB' END AS "ServiceName",
  CASE cost_type WHEN 'openai_api' THEN 'Generative AI' WHEN 'kubernetes' THEN 'Containers' ELSE 'Other (Databases)' END AS "ServiceSubcategory",
  CASE WHEN cost_type = 'openai_api' THEN ${PROVIDER_ID} || '/' || coalesce(model, 'unknown') || coalesce(':' || kind, '')
       ELSE cost_type || coalesce(':' || kind, '') END AS "SkuId",
  kind AS "SkuMeter",
  CASE WHEN category = 'Usage' AND unit_price IS NOT NULL THEN price_version || ':' || kind END AS "SkuPriceId",
  persona_id AS "SubAccountId", persona_id AS "SubAccountName",
  jsonb_strip_nulls(jsonb_build_object('persona', persona_id, 'post', post_id, 'team', team))::text AS "Tags",
  cost_type AS "x_CostType", CASE WHEN cost_type = 'openai_api' THEN kind END AS "x_TokenKind", events AS "x_EventCount",
  price_version AS "x_PriceVersion", price_status AS "x_PriceStatus", target_version AS "x_RepriceTargetVersion"
FROM charges`;
  return { text, values };
}

/** The SQL above with its parameters inlined as literals (COPY takes no bind parameters). */
function inline(text: string, values: unknown[], client: PoolClient): string {
  return text.replace(/\$(\d+)/g, (_, n) => {
    const v = values[Number(n) - 1];
    const s = v instanceof Date ? v.toISOString() : String(v);
    return `${client.escapeLiteral(s)}${v instanceof Date ? '::timestamptz' : ''}`;
  });
}

/**
 * Streams the export as CSV (header first, columns in FOCUS_EXPORT_COLUMNS order) by COPY TO
 * STDOUT: Postgres aggregates, Node only passes bytes on, so memory stays bounded whatever the range.
 * The connection returns to the pool when the stream ends, fails or is destroyed.
 */
export async function focusCsvStream(pool: Pool, req: FocusExportRequest): Promise<Readable> {
  checkFocusRequest(req);
  const client = await pool.connect();
  let released = false;
  const release = (err?: Error) => {
    if (released) return;
    released = true;
    client.release(err);
  };
  try {
    // One transaction, so work_mem is set for this export only and one snapshot serves the whole range.
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    if (req.workMem) await client.query(`SET LOCAL work_mem = ${client.escapeLiteral(req.workMem)}`);
    await client.query('SET LOCAL jit = off'); // compiling this statement's many expressions costs more than it saves
    // Hours are binned on the timestamptz itself (date_bin, plain arithmetic) and printed by to_char in UTC.
    await client.query("SET LOCAL TimeZone = 'UTC'");
    const { text, values } = focusSql(req);
    const stream = client.query(copyTo(`COPY (${inline(text, values, client)}) TO STDOUT WITH (FORMAT csv, HEADER true)`));
    stream.on('end', () => void client.query('COMMIT').then(() => release(), (err: Error) => release(err)));
    stream.on('error', (err) => release(err));
    // Destroyed before its end (the HTTP client went away): the connection is dropped with the query.
    stream.on('close', () => setImmediate(() => { if (!released && !stream.readableEnded) release(new Error('FOCUS export stream closed early')); }));
    return stream;
  } catch (err) {
    release(err as Error);
    throw err;
  }
}

export { FOCUS_EXPORT_COLUMNS };
