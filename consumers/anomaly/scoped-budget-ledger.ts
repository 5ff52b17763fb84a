import { Pool } from 'pg';
import { DependencyError } from '../../src/errors';
import { formatUsd, nanoFromNumericText } from '../../src/money';
import { ScopedBudget, ScopedBudgetView } from './scoped-budgets';
import { utcDayStart, utcMonthEnd, utcMonthStart } from './persona-state';

/** The SQL condition selecting a scope's events in cost_events, with its parameter. */
function scopeCondition(b: ScopedBudget, param: number): { sql: string; value: string | null } {
  switch (b.kind) {
    case 'persona':
      return { sql: `persona_id = $${param}`, value: b.value };
    case 'team':
      return { sql: `persona_id IN (SELECT persona_id FROM persona_teams WHERE team = $${param})`, value: b.value };
    case 'service':
      return { sql: `service = $${param}`, value: b.value };
    case 'model':
      return { sql: `model = $${param}`, value: b.value };
    case 'tag': {
      return { sql: `metadata @> $${param}::jsonb`, value: JSON.stringify({ [b.value.slice(0, b.value.indexOf('='))]: b.value.slice(b.value.indexOf('=') + 1) }) };
    }
    case 'global':
      return { sql: 'true', value: null };
  }
}

export function currentPeriod(b: ScopedBudget, now: number): [number, number] {
  if (b.period === 'daily') {
    const d = utcDayStart(now);
    return [d, d + 86_400_000];
  }
  const m = utcMonthStart(now);
  return [m, utcMonthEnd(m)];
}

/**
 * Spend of every scoped budget's current period in the ledger (cost_events) among the events of
 * one input partition below `beforeOffset`: those this consumer will not read from the topic. A
 * new or restarted consumer starts each budget from here, not from the topic's retention. One
 * query per partition sums by (persona, service, model) for the month and the day; personas, teams,
 * services, models and global are summed from it, tag budgets are read one query each.
 */
export async function ledgerSpend(
  pool: Pool, budgets: readonly ScopedBudget[], partition: number, beforeOffset: number, now: number, teamOf: (personaId: string) => string | undefined,
): Promise<Map<ScopedBudget, { periodStart: number; spent: bigint }>> {
  const out = new Map<ScopedBudget, { periodStart: number; spent: bigint }>();
  if (budgets.length === 0 || beforeOffset <= 0) return out;
  const day = utcDayStart(now);
  const month = utcMonthStart(now);
  const monthEnd = utcMonthEnd(month);
  try {
    const { rows } = await pool.query(
      `SELECT persona_id, service, model, sum(amount_usd)::text AS month, coalesce(sum(amount_usd) FILTER (WHERE event_time >= $4), 0)::text AS day
       FROM cost_events WHERE kafka_partition = $1 AND kafka_offset < $2 AND event_time >= $3 AND event_time < $5
       GROUP BY 1, 2, 3`,
      [partition, beforeOffset, new Date(month), new Date(day), new Date(monthEnd)],
    );
    const sums = new Map<string, { day: bigint; month: bigint }>();
    const add = (key: string, d: bigint, m: bigint) => {
      const cur = sums.get(key) ?? { day: 0n, month: 0n };
      cur.day += d;
      cur.month += m;
      sums.set(key, cur);
    };
    for (const r of rows) {
      const d = nanoFromNumericText(r.day);
      const m = nanoFromNumericText(r.month);
      add(`persona:${r.persona_id}`, d, m);
      add('global:', d, m);
      const team = teamOf(r.persona_id);
      if (team !== undefined) add(`team:${team}`, d, m);
      if (r.service) add(`service:${r.service}`, d, m);
      if (r.model) add(`model:${r.model}`, d, m);
    }
    for (const b of budgets) {
      const [start, end] = currentPeriod(b, now);
      let spent: bigint;
      if (b.kind === 'tag') {
        const cond = scopeCondition(b, 5);
        const { rows: t } = await pool.query(
          `SELECT coalesce(sum(amount_usd), 0)::text AS spent FROM cost_events
           WHERE kafka_partition = $1 AND kafka_offset < $2 AND event_time >= $3 AND event_time < $4 AND ${cond.sql}`,
          [partition, beforeOffset, new Date(start), new Date(end), cond.value],
        );
        spent = nanoFromNumericText(t[0].spent);
      } else {
        const s = sums.get(`${b.kind}:${b.value}`);
        spent = s ? (b.period === 'daily' ? s.day : s.month) : 0n;
      }
      out.set(b, { periodStart: start, spent });
    }
    return out;
  } catch (err) {
    throw new DependencyError('postgres', `reading the ledger spend of scoped budgets: ${(err as Error).message}`, { cause: err });
  }
}

const usdOrNull = (nano: number | null | undefined) => (nano === null || nano === undefined || !Number.isFinite(nano) ? null : formatUsd(BigInt(Math.round(nano))));

/** Upserts what the engine knows of each scoped budget (spend, forecast, exhaustion) for GET /budgets. */
export async function writeBudgetStatus(pool: Pool, views: ScopedBudgetView[]): Promise<void> {
  if (views.length === 0) return;
  const rows = views.map((v) => [
    v.kind, v.value, v.period, new Date(v.periodStart).toISOString(), formatUsd(v.spent), usdOrNull(v.forecast?.expected), usdOrNull(v.forecast?.low),
    usdOrNull(v.forecast?.high), v.forecast?.exhaustionAt ? new Date(v.forecast.exhaustionAt).toISOString() : null,
  ]);
  await pool.query(
    `INSERT INTO scoped_budget_status (scope_kind, scope_value, period, period_start, spent_usd, forecast_usd, forecast_low_usd, forecast_high_usd, exhaustion_at, updated_at)
     SELECT r->>0, r->>1, r->>2, (r->>3)::timestamptz, (r->>4)::numeric, (r->>5)::numeric, (r->>6)::numeric, (r->>7)::numeric, (r->>8)::timestamptz, now()
     FROM jsonb_array_elements($1::jsonb) r
     ON CONFLICT (scope_kind, scope_value, period) DO UPDATE SET period_start = excluded.period_start, spent_usd = excluded.spent_usd,
       forecast_usd = excluded.forecast_usd, forecast_low_usd = excluded.forecast_low_usd, forecast_high_usd = excluded.forecast_high_usd,
       exhaustion_at = excluded.exhaustion_at, updated_at = now()`,
    [JSON.stringify(rows)],
  );
}
