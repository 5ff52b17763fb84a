import type { Pool } from 'pg';
import { logger } from '../logging';
import { gauge } from '../metrics';
import type { PriceBook } from '../pricing';

const log = logger('pricing-coverage');
const unpricedSeen = gauge('finops_pricing_unpriced_seen_models', 'LLM models the ledger has costs for that the loaded price table does not price (at the last coverage check).');

export interface CoverageReport {
  price_version: string;
  table_origin: string;
  checked_at: string;
  models_seen: number;
  /** Models with ledger costs the loaded table (and overrides) do not price now: their new events would be flagged unknown_model. */
  unpriced: { model: string; last_day: string; events: number }[];
}

/**
 * The LLM models the ledger has seen (the daily rollup, so cheap) that `book` does not price now.
 * A newer table that dropped a model shows it here, in the gauge and in a warning, never as a
 * silent $0. The provider is taken as openai, as the SDK's default; overrides count as priced.
 */
export async function pricingCoverage(pool: Pool, book: PriceBook, now = new Date()): Promise<CoverageReport> {
  const { rows } = await pool.query<{ model: string; last_day: string; events: string }>(
    `SELECT model, to_char(max(day), 'YYYY-MM-DD') AS last_day, sum(event_count) AS events
     FROM persona_daily_costs WHERE cost_type = 'openai_api' AND model <> '' GROUP BY model ORDER BY model`,
  );
  const unpriced = rows.filter((r) => !book.prices('openai', r.model, now)).map((r) => ({ model: r.model, last_day: r.last_day, events: Number(r.events) }));
  unpricedSeen.set(unpriced.length);
  if (unpriced.length) log.warn({ priceVersion: book.version, models: unpriced.map((u) => u.model) }, 'models the ledger has seen are not priced by the loaded price table; their new events will be flagged unknown_model');
  return { price_version: book.version, table_origin: book.table.origin, checked_at: now.toISOString(), models_seen: rows.length, unpriced };
}
