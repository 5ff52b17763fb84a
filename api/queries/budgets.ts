import type { Pool } from 'pg';
import { formatUsd, nanoFromNumericText } from '../../src/money';
import { Actor, appendAudit } from './audit';

interface BudgetRow {
  persona_id: string;
  period: 'daily' | 'monthly';
  limit_usd: string;
  spent_usd: string | null;
  period_start: string;
  updated_at: Date;
  updated_by: string | null;
}

// Spend so far in the current UTC period, from the daily rollup, adjusted by re-pricing.
const SELECT = `
SELECT b.persona_id, b.period, b.limit_usd, b.updated_at, b.updated_by, s.period_start,
       (SELECT sum(d.total_usd + d.adjustment_usd) FROM persona_daily_costs d WHERE d.persona_id = b.persona_id AND d.day >= s.period_start::date) AS spent_usd
FROM budgets b
CROSS JOIN LATERAL (SELECT to_char(date_trunc(CASE b.period WHEN 'daily' THEN 'day' ELSE 'month' END, now() AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS period_start) s`;

function present(r: BudgetRow) {
  const limit = nanoFromNumericText(r.limit_usd);
  const spent = nanoFromNumericText(r.spent_usd);
  return {
    persona_id: r.persona_id,
    period: r.period,
    limit_usd: formatUsd(limit),
    period_start: r.period_start,
    spent_usd: formatUsd(spent),
    // display only: 4 decimals, rounded down, computed in integers
    used_ratio: Number((spent * 10_000n) / limit) / 10_000,
    updated_at: r.updated_at.toISOString(),
    updated_by: r.updated_by,
  };
}

export async function listBudgets(pool: Pool, personaId?: string, period?: string) {
  const where: string[] = [];
  const params: unknown[] = [];
  if (personaId !== undefined) where.push(`b.persona_id = $${params.push(personaId)}`);
  if (period !== undefined) where.push(`b.period = $${params.push(period)}`);
  const { rows } = await pool.query<BudgetRow>(`${SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY b.persona_id, b.period LIMIT 10000`, params);
  return rows.map(present);
}

/** Creates or replaces a budget and audits it (before, after) in the same transaction. */
export async function putBudget(pool: Pool, personaId: string, period: string, limitNano: bigint, actor: Actor) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const prior = await client.query<BudgetRow>('SELECT persona_id, period, limit_usd::text AS limit_usd, updated_at, updated_by FROM budgets WHERE persona_id = $1 AND period = $2 FOR UPDATE', [personaId, period]);
    await client.query(
      `INSERT INTO budgets (persona_id, period, limit_usd, updated_by) VALUES ($1, $2, $3::numeric, $4)
       ON CONFLICT (persona_id, period) DO UPDATE SET limit_usd = excluded.limit_usd, updated_by = excluded.updated_by, updated_at = now()`,
      [personaId, period, formatUsd(limitNano), actor.name],
    );
    const before = prior.rows[0] ? storedBudget(prior.rows[0]) : null;
    const after = { persona_id: personaId, period, limit_usd: formatUsd(limitNano), updated_by: actor.name };
    await appendAudit(client, actor, { action: before ? 'budget.replace' : 'budget.create', personaId, target: `budget/${period}`, before, after });
    await client.query('COMMIT');
    const [budget] = await listBudgets(pool, personaId, period);
    return { created: before === null, budget };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Deletes a budget and audits it; false when there was none (nothing audited). */
export async function deleteBudget(pool: Pool, personaId: string, period: string, actor: Actor): Promise<boolean> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const { rows } = await client.query<BudgetRow>(
      'DELETE FROM budgets WHERE persona_id = $1 AND period = $2 RETURNING persona_id, period, limit_usd::text AS limit_usd, updated_at, updated_by',
      [personaId, period],
    );
    if (rows[0]) await appendAudit(client, actor, { action: 'budget.delete', personaId, target: `budget/${period}`, before: storedBudget(rows[0]), after: null });
    await client.query('COMMIT');
    return rows.length > 0;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

const storedBudget = (r: Pick<BudgetRow, 'persona_id' | 'period' | 'limit_usd' | 'updated_at' | 'updated_by'>) => ({
  persona_id: r.persona_id,
  period: r.period,
  limit_usd: formatUsd(nanoFromNumericText(r.limit_usd)),
  updated_at: r.updated_at.toISOString(),
  updated_by: r.updated_by,
});
