import { randomUUID } from 'node:crypto';
import type { Pool, PoolClient } from 'pg';
import { InvalidInputError } from '../errors';
import { logger } from '../logging';
import { formatUsd, nanoFromNumericText } from '../money';
import type { PriceBook } from '../pricing';

const log = logger('ledger-reprice');

export interface RepriceRequest {
  /** Event-time range, start inclusive, end exclusive. */
  start: Date;
  end: Date;
  personaIds?: string[];
  models?: string[];
  /** Must equal the book's version when given: the run re-prices to exactly the version asked for. */
  targetVersion?: string;
  actor: string;
  reason: string;
  /** Postgres work_mem for the run (default 256MB). */
  workMem?: string;
}

export interface DiffLine {
  events: number;
  old_usd: string;
  new_usd: string;
  delta_usd: string;
}

export interface RepriceReport {
  run_id: string;
  target_version: string;
  start: string;
  end: string;
  persona_ids: string[] | null;
  models: string[] | null;
  actor: string;
  reason: string;
  /** LLM events in scope (cost type openai_api, in range and filters). */
  events_examined: number;
  events_adjusted: number;
  total: DiffLine;
  by_model: ({ model: string } & DiffLine)[];
  by_persona: ({ persona_id: string } & DiffLine)[];
  by_day: ({ day: string } & DiffLine)[];
  /** Models with events in scope that the target version does not price: left as they are, never re-priced to $0. */
  unpriced_models: { provider: string; model: string; events: number }[];
  duration_ms: number;
}

/** An event's provider, read from its recorded price version ("<table>:<provider>/<model>[@date]"); openai when it names none. */
export function providerOfVersion(priceVersion: string): string {
  const m = /^[^:]*:([A-Za-z0-9_.-]+)\//.exec(priceVersion);
  return m && m[1] !== 'override' ? m[1] : 'openai';
}

function scope(req: RepriceRequest, firstParam: number): { where: string; params: unknown[] } {
  const parts = ["e.cost_type = 'openai_api'", 'e.model IS NOT NULL', 'e.event_time >= $1', 'e.event_time < $2'];
  const params: unknown[] = [req.start, req.end];
  if (req.personaIds?.length) {
    params.push(req.personaIds);
    parts.push(`e.persona_id = ANY($${params.length}::text[])`);
  }
  if (req.models?.length) {
    params.push(req.models);
    parts.push(`e.model = ANY($${params.length}::text[])`);
  }
  return { where: parts.join(' AND '), params };
}

export function checkRepriceRequest(req: RepriceRequest, book: PriceBook): void {
  if (!(req.start instanceof Date) || Number.isNaN(req.start.getTime())) throw new InvalidInputError('reprice.start', 'start is not a valid time');
  if (!(req.end instanceof Date) || Number.isNaN(req.end.getTime())) throw new InvalidInputError('reprice.end', 'end is not a valid time');
  if (!(req.start < req.end)) throw new InvalidInputError('reprice.range', `start ${req.start.toISOString()} is not before end ${req.end.toISOString()}`);
  if (!req.reason?.trim()) throw new InvalidInputError('reprice.reason', 'a reason is required: it is recorded on every adjustment');
  if (!req.actor?.trim()) throw new InvalidInputError('reprice.actor', 'an actor is required: it is recorded on every adjustment');
  if (req.targetVersion !== undefined && req.targetVersion !== book.version) {
    throw new InvalidInputError('reprice.target_version', `target price version ${JSON.stringify(req.targetVersion)} is not the loaded one (${book.version}); load that price table (PRICING_TABLE_FILE/URL, or --table) or ask for ${book.version}`);
  }
}

const line = (r: { events: string; old_usd: string | null; new_usd: string | null; delta_usd: string | null }): DiffLine => ({
  events: Number(r.events),
  old_usd: formatUsd(nanoFromNumericText(r.old_usd)),
  new_usd: formatUsd(nanoFromNumericText(r.new_usd)),
  delta_usd: formatUsd(nanoFromNumericText(r.delta_usd)),
});

/**
 * Re-prices the LLM events of a range under `book` (its version is the target), set-based in one
 * transaction: the rates of every (provider, model, price window) go into a temporary table and
 * one INSERT … SELECT computes each event's new amount from its recorded tokens in integer
 * arithmetic (rounded half-up once to the nano-dollar, as the SDK does), compares it with the
 * event's current amount (its latest adjustment, or its own) and appends an adjustment entry where
 * they differ, in key order. The same statement adds the deltas to the daily rollup, appends the
 * run's delta per post and returns the diff by model, persona and day. Actor, reason and unit
 * prices are the run's, kept once (sql/110). `onCommit` runs inside the transaction (the operator
 * audit entry).
 */
export async function reprice(pool: Pool, book: PriceBook, req: RepriceRequest, onCommit?: (db: PoolClient, report: RepriceReport) => Promise<void>): Promise<RepriceReport> {
  checkRepriceRequest(req, book);
  const started = Date.now();
  const runId = randomUUID();
  const db = await pool.connect();
  try {
    await db.query('BEGIN');
    // One run at a time: a run's "current amount" must include every earlier run's adjustments.
    await db.query("SELECT pg_advisory_xact_lock(hashtext('finops.ledger.reprice'))");
    await db.query(
      `INSERT INTO reprice_runs (run_id, actor, reason, target_version, range_start, range_end, persona_ids, models) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [runId, req.actor, req.reason, book.version, req.start, req.end, req.personaIds?.length ? req.personaIds : null, req.models?.length ? req.models : null],
    );
    const s = scope(req, 1);
    // Sorts and hashes over millions of rows: room for them in memory, for this transaction only.
    await db.query(`SET LOCAL work_mem = ${db.escapeLiteral(req.workMem ?? '256MB')}`);
    await db.query('SET LOCAL jit = off');
    // The price versions and models in scope: events join their rates on both (plain equality, no per-row parsing).
    const versions = await db.query<{ price_version: string; model: string; events: string }>(
      `SELECT e.price_version, e.model, count(*) AS events FROM cost_events e WHERE ${s.where} GROUP BY 1, 2`, s.params,
    );
    const pairs = new Map<string, { provider: string; model: string; events: number; versions: string[] }>();
    for (const v of versions.rows) {
      const provider = providerOfVersion(v.price_version);
      const key = `${provider}\u0000${v.model}`;
      const p = pairs.get(key) ?? { provider, model: v.model, events: 0, versions: [] };
      p.events += Number(v.events);
      p.versions.push(v.price_version);
      pairs.set(key, p);
    }
    await db.query(`CREATE TEMP TABLE reprice_rates (
      old_version text NOT NULL, model text NOT NULL, valid_from timestamptz NOT NULL, valid_to timestamptz NOT NULL,
      in_units numeric NOT NULL, out_units numeric NOT NULL, cache_units numeric, divisor numeric NOT NULL,
      price_version text NOT NULL, unit_prices jsonb NOT NULL) ON COMMIT DROP`);
    const unpriced: RepriceReport['unpriced_models'] = [];
    const rateRows: unknown[][] = [];
    let examined = 0;
    for (const p of pairs.values()) {
      examined += p.events;
      const windows = book.rateWindows(p.provider, p.model, req.start, req.end);
      if (windows.some((w) => w.price === null)) unpriced.push({ provider: p.provider, model: p.model, events: p.events });
      for (const w of windows) {
        if (!w.price) continue;
        for (const old of p.versions) {
          rateRows.push([old, p.model, w.from, w.to, w.input.toString(), w.output.toString(), w.cacheRead?.toString() ?? null, w.divisor.toString(), w.price.version, JSON.stringify(w.price.unit_prices)]);
        }
      }
    }
    for (let i = 0; i < rateRows.length; i += 500) {
      const chunk = rateRows.slice(i, i + 500);
      await db.query(
        `INSERT INTO reprice_rates SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[], $9::text[], $10::jsonb[])`,
        Array.from({ length: 10 }, (_, c) => chunk.map((r) => r[c])),
      );
    }
    await db.query('ANALYZE reprice_rates');
    // The unit prices of the run's rates, once per price version (the cost_adjustments view puts them on each row).
    await db.query(
      `INSERT INTO reprice_unit_prices (run_id, price_version, unit_prices)
       SELECT DISTINCT ON (price_version) $1::uuid, price_version, unit_prices FROM reprice_rates ORDER BY price_version`, [runId],
    );
    // The current amount of every event in scope that has been adjusted before, taken once up front:
    // a per-row look-up into cost_adjustments from the statement that inserts into it would read
    // through every row that statement has inserted so far.
    const a = scope(req, 1);
    const adjustedBefore = await db.query(
      `CREATE TEMP TABLE reprice_last ON COMMIT DROP AS
       SELECT DISTINCT ON (e.event_id) e.event_id, e.new_amount_usd, e.new_price_version
       FROM cost_adjustment_entries e WHERE ${a.where} ORDER BY e.event_id, e.adjustment_id DESC`, a.params,
    );
    await db.query('CREATE UNIQUE INDEX ON reprice_last (event_id)');
    await db.query('ANALYZE reprice_last');
    // The events already adjusted to this target: left out by an anti-join, so the insert below is
    // a plain one (ON CONFLICT's speculative insertion probes the key and writes each row twice).
    // The primary key still refuses a second row; runs are serialized by the lock above.
    const d = scope(req, 1);
    d.params.push(book.version);
    const doneBefore = await db.query(
      `CREATE TEMP TABLE reprice_done ON COMMIT DROP AS
       SELECT e.event_id FROM cost_adjustment_entries e WHERE ${d.where} AND e.target_version = $${d.params.length}`, d.params,
    );
    await db.query('ANALYZE reprice_done');
    // An empty table is left out of the statement: the planner joins an empty one by a nested loop
    // that starts a scan of it for every event (the anti-join alone took 14.7 s of a first run over
    // 6e6 events, EXPLAIN ANALYZE).
    const hasLast = (adjustedBefore.rowCount ?? 1) > 0;
    const hasDone = (doneBefore.rowCount ?? 1) > 0;
    const t = scope(req, 1);
    const base = t.params.length;
    const { rows } = await db.query(
      `WITH ins AS (
         INSERT INTO cost_adjustment_entries (run_id, event_time, event_id, target_version, persona_id, post_id, cost_type, model,
                                              old_price_version, new_price_version, old_amount_usd, new_amount_usd)
         SELECT $${base + 2}::uuid, c.event_time, c.event_id, $${base + 1}, c.persona_id, c.post_id, c.cost_type, c.model,
                c.cur_version, c.new_version, c.cur_amount, c.new_amount
         FROM (
           SELECT e.event_id, e.event_time, e.persona_id, e.post_id, e.cost_type, e.model, r.price_version AS new_version,
                  ${hasLast ? 'coalesce(last.new_amount_usd, e.amount_usd)' : 'e.amount_usd'} AS cur_amount,
                  ${hasLast ? 'coalesce(last.new_price_version, e.price_version)' : 'e.price_version'} AS cur_version,
                  -- Σ tokens × rate / divisor in USD, to nano-dollars rounded half-up: div(2n + d, 2d), all integers.
                  div(2 * 1000000000 * ((e.input_tokens - q.cached) * r.in_units + e.output_tokens * r.out_units + q.cached * coalesce(r.cache_units, 0)) + r.divisor,
                      2 * r.divisor) * 0.000000001 AS new_amount
           FROM cost_events e
           JOIN reprice_rates r ON r.old_version = e.price_version AND r.model = e.model AND e.event_time >= r.valid_from AND e.event_time < r.valid_to
           CROSS JOIN LATERAL (SELECT CASE WHEN r.cache_units IS NULL THEN 0 ELSE least(coalesce(e.cached_input_tokens, 0), e.input_tokens) END AS cached) q
           ${hasLast ? 'LEFT JOIN reprice_last last ON last.event_id = e.event_id' : ''}
           WHERE ${t.where} ${hasDone ? 'AND NOT EXISTS (SELECT 1 FROM reprice_done done WHERE done.event_id = e.event_id)' : ''}
         ) c
         WHERE c.new_amount <> c.cur_amount
         -- In key order: the primary key (event_time, event_id, target_version) then grows at its
         -- right edge, or one range at a time, instead of at a random leaf per row (sql/110).
         ORDER BY c.event_time, c.event_id
         RETURNING persona_id, post_id, (event_time AT TIME ZONE 'UTC')::date AS day, cost_type, coalesce(model, '') AS model, old_amount_usd, new_amount_usd
       ),
       -- The adjustments summed once by the daily rollup's key; the diff by model, persona and day
       -- is summed from these sums (a few thousand rows) instead of from every adjustment again.
       per_day AS (
         SELECT persona_id, day, cost_type, model, count(*) AS events, sum(old_amount_usd) AS old_usd, sum(new_amount_usd) AS new_usd
         FROM ins GROUP BY 1, 2, 3, 4
       ),
       daily AS (
         UPDATE persona_daily_costs d SET adjustment_usd = d.adjustment_usd + (x.new_usd - x.old_usd)
         FROM per_day x
         WHERE d.persona_id = x.persona_id AND d.day = x.day AND d.cost_type = x.cost_type AND d.model = x.model
         RETURNING 1
       ),
       -- post_costs is a view over the events and these per-post sums (sql/110).
       posts AS (
         INSERT INTO reprice_post_deltas (post_id, run_id, events, delta_usd)
         SELECT post_id, $${base + 2}::uuid, count(*), sum(new_amount_usd - old_amount_usd) FROM ins WHERE post_id IS NOT NULL GROUP BY post_id
         RETURNING 1
       )
       SELECT GROUPING(model) AS g_model, GROUPING(persona_id) AS g_persona, GROUPING(day) AS g_day,
              model, persona_id, to_char(day, 'YYYY-MM-DD') AS day,
              coalesce(sum(events), 0) AS events, sum(old_usd) AS old_usd, sum(new_usd) AS new_usd, sum(new_usd - old_usd) AS delta_usd,
              (SELECT count(*) FROM daily) AS daily_rows, (SELECT count(*) FROM posts) AS post_rows
       FROM per_day
       GROUP BY GROUPING SETS ((), (model), (persona_id), (day))`,
      [...t.params, book.version, runId],
    );
    const total = rows.find((r) => r.g_model && r.g_persona && r.g_day);
    const report: RepriceReport = {
      run_id: runId,
      target_version: book.version,
      start: req.start.toISOString(),
      end: req.end.toISOString(),
      persona_ids: req.personaIds?.length ? req.personaIds : null,
      models: req.models?.length ? req.models : null,
      actor: req.actor,
      reason: req.reason,
      events_examined: examined,
      events_adjusted: total ? Number(total.events) : 0,
      total: total ? line(total) : { events: 0, old_usd: formatUsd(0n), new_usd: formatUsd(0n), delta_usd: formatUsd(0n) },
      by_model: rows.filter((r) => !r.g_model).map((r) => ({ model: r.model, ...line(r) })).sort((a, b) => a.model.localeCompare(b.model)),
      by_persona: rows.filter((r) => !r.g_persona).map((r) => ({ persona_id: r.persona_id, ...line(r) })).sort((a, b) => a.persona_id.localeCompare(b.persona_id)),
      by_day: rows.filter((r) => !r.g_day).map((r) => ({ day: r.day, ...line(r) })).sort((a, b) => a.day.localeCompare(b.day)),
      unpriced_models: unpriced,
      duration_ms: Date.now() - started,
    };
    await db.query(
      `UPDATE reprice_runs SET finished_at = now(), events_examined = $2, events_adjusted = $3, delta_usd = $4::numeric, report = $5::jsonb WHERE run_id = $1`,
      [runId, report.events_examined, report.events_adjusted, report.total.delta_usd, JSON.stringify(report)],
    );
    if (onCommit) await onCommit(db, report);
    await db.query('COMMIT');
    if (unpriced.length) log.warn({ run: runId, unpriced }, 'models in the re-priced range have no price in the target version; their events were left as they are');
    log.info({ run: runId, target: book.version, examined, adjusted: report.events_adjusted, delta: report.total.delta_usd, ms: report.duration_ms }, 're-priced');
    return report;
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    db.release();
  }
}

/** A finished run's report (null: no such run). */
export async function repriceReport(pool: Pool, runId: string): Promise<RepriceReport | null> {
  const { rows } = await pool.query('SELECT report FROM reprice_runs WHERE run_id = $1::uuid AND report IS NOT NULL', [runId]);
  return rows[0]?.report ?? null;
}
