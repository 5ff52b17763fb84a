/**
 * Ledger benchmark (`npm run bench:ledger`): re-pricing by replay and the FOCUS export on
 * BENCH_LEDGER_EVENTS ledger events (default 10,000,000).
 *
 *  1. Data: a database of its own (BENCH_LEDGER_DB, default finops_bench_ledger), migrated, with
 *     the events generated straight into cost_events by SQL (testkit/ledger-rows.ts, set-based,
 *     1,000,000 rows a statement, the table's indexes dropped for the load and rebuilt after), over
 *     30 days, 100 personas, 50,000 posts; rollups computed from them. The database is dropped at
 *     the end unless BENCH_LEDGER_KEEP=1. BENCH_LEDGER_REUSE=1 keeps it and, when it already holds
 *     BENCH_LEDGER_EVENTS events from an earlier run, takes them as they are (their range is kept in
 *     bench_ledger_range) and only empties the adjustments, so a run does not pay for generating again.
 *  2. Re-pricing: every LLM event of the range re-priced to the bundled genai-prices table (the
 *     generated events were priced at other rates, so nearly all differ), then the same run again
 *     (which must adjust nothing). reprice_events_per_s = LLM events examined / seconds of the run.
 *  3. FOCUS: the whole range exported by COPY, written to a file with BilledCost summed exactly as it
 *     arrives; focus_events_per_s = ledger events in the range / seconds from the request to the last
 *     byte written. The file is then read through the spec validator (untimed). sum_equal: the export's BilledCost total equals
 *     SUM(cost_events.amount_usd) + SUM(adjustment deltas) to the nano-dollar, and the validator found no error.
 *  rss_mb is this process's peak resident set (VmHWM). The last line printed is one JSON object.
 */
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createPool } from '../src/db/pool';
import { migrate } from '../src/db/migrate';
import { FOCUS_VERSION } from '../src/ledger/focus/columns';
import { focusCsvStream } from '../src/ledger/focus/export';
import { FocusCsvValidator } from '../src/ledger/focus/validate';
import { reprice } from '../src/ledger/reprice';
import { ledgerSettings } from '../src/ledger/settings';
import { formatUsd, nanoFromNumericText, usdToNano } from '../src/money';
import { priceBookFromConfig } from '../src/pricing';
import { writeLedgerRows } from '../testkit/ledger-rows';

const EVENTS = Number(process.env.BENCH_LEDGER_EVENTS ?? 10_000_000);
const DB = process.env.BENCH_LEDGER_DB ?? 'finops_bench_ledger';
const REUSE = process.env.BENCH_LEDGER_REUSE === '1';
const KEEP = REUSE || process.env.BENCH_LEDGER_KEEP === '1';
const SERVER = process.env.BENCH_LEDGER_SERVER ?? 'postgres://postgres@127.0.0.1:15432';
const DAYS = 30;

const say = (msg: string) => process.stderr.write(`[bench:ledger ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
const peakRssMb = () => {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.memoryUsage().rss / 2 ** 20;
};

async function admin(sql: string): Promise<void> {
  const c = new Client({ connectionString: `${SERVER}/postgres` });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** The range of an earlier run's events when the database holds exactly EVENTS of them; null otherwise. */
async function reusableRange(dbUrl: string): Promise<{ start: Date; end: Date } | null> {
  const c = new Client({ connectionString: dbUrl });
  try {
    await c.connect();
  } catch {
    return null;
  }
  try {
    const { rows } = await c.query("SELECT range_start, range_end, events FROM bench_ledger_range WHERE events = $1", [EVENTS]);
    if (!rows.length) return null;
    const n = (await c.query('SELECT count(*)::bigint AS n FROM cost_events')).rows[0].n;
    return Number(n) === EVENTS ? { start: rows[0].range_start, end: rows[0].range_end } : null;
  } catch {
    return null;
  } finally {
    await c.end();
  }
}

async function generate(pool: ReturnType<typeof createPool>): Promise<{ start: Date; end: Date }> {
  const end = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000 - 86_400_000);
  const start = new Date(end.getTime() - DAYS * 86_400_000);
  await pool.query('SELECT finops_ensure_partitions(3, 1)');
  const indexes = (await pool.query<{ indexdef: string; indexname: string }>(
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'cost_events'",
  )).rows;
  for (const i of indexes) await pool.query(`DROP INDEX ${i.indexname}`);
  say(`generating ${EVENTS} events over ${start.toISOString()} .. ${end.toISOString()}`);
  const t = Date.now();
  await writeLedgerRows(pool, {
    prefix: 'bench', count: EVENTS, start, spanMs: end.getTime() - start.getTime(), personas: 100, posts: 50_000,
    chunk: 1_000_000, onChunk: (done) => say(`${done} events written`),
  });
  say(`generated in ${((Date.now() - t) / 1000).toFixed(1)} s; rebuilding ${indexes.length} indexes`);
  for (const i of indexes) await pool.query(i.indexdef);
  await pool.query('ANALYZE');
  await pool.query('CREATE TABLE bench_ledger_range (range_start timestamptz NOT NULL, range_end timestamptz NOT NULL, events bigint NOT NULL)');
  await pool.query('INSERT INTO bench_ledger_range VALUES ($1, $2, $3)', [start, end, EVENTS]);
  return { start, end };
}

async function main(): Promise<void> {
  const dbUrl = `${SERVER}/${DB}`;
  const reused = REUSE ? await reusableRange(dbUrl) : null;
  if (!reused) {
    await admin(`DROP DATABASE IF EXISTS "${DB}"`);
    await admin(`CREATE DATABASE "${DB}"`);
  }
  const pool = createPool({ DATABASE_URL: dbUrl, DATABASE_POOL_MAX: 4 }, 'bench-ledger');
  try {
    await migrate(pool);
    const { start, end } = reused ?? await generate(pool);
    if (reused) {
      say(`reusing the ${EVENTS} events of ${DB} (${start.toISOString()} .. ${end.toISOString()}); emptying the adjustments`);
      await pool.query('TRUNCATE cost_adjustment_entries, reprice_unit_prices, reprice_post_deltas, reprice_runs');
      await pool.query('UPDATE persona_daily_costs SET adjustment_usd = 0 WHERE adjustment_usd <> 0');
      await pool.query('VACUUM ANALYZE cost_adjustment_entries');
    }

    const book = priceBookFromConfig({});
    let t = Date.now();
    const run = await reprice(pool, book, { start, end, actor: 'bench', reason: 'bench:ledger re-pricing to the bundled table' });
    const repriceS = (Date.now() - t) / 1000;
    say(`re-priced ${run.events_examined} LLM events in ${repriceS.toFixed(1)} s: ${run.events_adjusted} adjusted, delta ${run.total.delta_usd} USD`);
    t = Date.now();
    const rerun = await reprice(pool, book, { start, end, actor: 'bench', reason: 'bench:ledger the same run again' });
    const rerunS = (Date.now() - t) / 1000;
    say(`the same run again in ${rerunS.toFixed(1)} s: ${rerun.events_adjusted} adjusted`);

    t = Date.now();
    const ls = ledgerSettings();
    const stream = await focusCsvStream(pool, { start, end, billingAccountId: ls.billingAccountId, billingAccountName: ls.billingAccountName, invoiceIssuerName: ls.invoiceIssuerName, workMem: ls.focusWorkMem });
    // Timed: the export as a client takes it (to a file), with BilledCost (the first column) summed exactly.
    const file = path.join(os.tmpdir(), `bench-ledger-focus-${process.pid}.csv`);
    const out = fs.createWriteStream(file);
    let billed = 0n;
    let focusRows = -1;
    let rest = '';
    for await (const chunk of stream) {
      if (!out.write(chunk)) await once(out, 'drain');
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (focusRows++ < 0) continue;
        billed += usdToNano(line.slice(0, line.indexOf(',')));
      }
    }
    out.end();
    await once(out, 'finish');
    const focusS = (Date.now() - t) / 1000;
    say(`FOCUS export: ${focusRows} rows in ${focusS.toFixed(1)} s (${(fs.statSync(file).size / 2 ** 20).toFixed(0)} MB); validating it`);
    // Untimed: every row through the spec validator.
    t = Date.now();
    const validator = new FocusCsvValidator();
    for await (const chunk of fs.createReadStream(file, { encoding: 'utf8' })) validator.push(chunk as string);
    const focus = validator.finish();
    fs.unlinkSync(file);
    say(`validated ${focus.rows} rows in ${((Date.now() - t) / 1000).toFixed(1)} s: ${focus.error_count} errors${focus.errors.length ? `: ${focus.errors.slice(0, 5).join('; ')}` : ''}`);

    const { rows } = await pool.query(
      `SELECT (SELECT sum(amount_usd)::text FROM cost_events WHERE event_time >= $1 AND event_time < $2) AS events,
              (SELECT coalesce(sum(new_amount_usd - old_amount_usd), 0)::text FROM cost_adjustments WHERE event_time >= $1 AND event_time < $2) AS adjustments,
              (SELECT count(*) FROM cost_events WHERE event_time >= $1 AND event_time < $2) AS n`,
      [start, end],
    );
    const ledger = nanoFromNumericText(rows[0].events) + nanoFromNumericText(rows[0].adjustments);
    const sumEqual = billed === ledger && focus.billed_nano === ledger && focus.rows === focusRows && focus.error_count === 0 && rerun.events_adjusted === 0;
    say(`ledger ${formatUsd(ledger)} USD (events ${rows[0].events} + adjustments ${rows[0].adjustments}); export ${formatUsd(focus.billed_nano)} USD`);
    const result = {
      events: Number(rows[0].n),
      reprice_events_per_s: Math.round(run.events_examined / repriceS),
      reprice_llm_events: run.events_examined,
      reprice_adjusted: run.events_adjusted,
      reprice_rerun_adjusted: rerun.events_adjusted,
      reprice_rerun_s: Number(rerunS.toFixed(1)),
      focus_events_per_s: Math.round(Number(rows[0].n) / focusS),
      focus_rows: focusRows,
      focus_validation_errors: focus.error_count,
      rss_mb: Math.round(peakRssMb()),
      sum_equal: sumEqual,
      focus_version: FOCUS_VERSION,
      focus_columns: focus.columns,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await pool.end();
    if (!KEEP) await admin(`DROP DATABASE IF EXISTS "${DB}"`).catch((err) => say(`could not drop ${DB}: ${err.message}`));
  }
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
