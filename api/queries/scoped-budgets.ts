import type { Pool, PoolClient } from 'pg';
import { formatUsd, nanoFromNumericText } from '../../src/money';
import { Actor, appendAudit } from './audit';

export interface ThresholdInput {
  percent: string;
  severity: 'low' | 'medium' | 'high' | 'critical';
  control?: 'throttle' | 'switch_model' | 'pause' | 'page' | null;
}

interface Row {
  scope_kind: string;
  scope_value: string;
  period: string;
  limit_usd: string;
  thresholds: ThresholdInput[];
  updated_at: Date;
  updated_by: string | null;
  status_period_start: Date | null;
  spent_usd: string | null;
  forecast_usd: string | null;
  forecast_low_usd: string | null;
  forecast_high_usd: string | null;
  exhaustion_at: Date | null;
  status_updated_at: Date | null;
}

// Spend and forecast as the anomaly consumer last reported them, for the current UTC period only.
const SELECT = `
SELECT b.scope_kind, b.scope_value, b.period, b.limit_usd::text AS limit_usd, b.thresholds, b.updated_at, b.updated_by,
       s.period_start AS status_period_start, s.spent_usd::text AS spent_usd, s.forecast_usd::text AS forecast_usd,
       s.forecast_low_usd::text AS forecast_low_usd, s.forecast_high_usd::text AS forecast_high_usd, s.exhaustion_at, s.updated_at AS status_updated_at
FROM scoped_budgets b
LEFT JOIN scoped_budget_status s ON s.scope_kind = b.scope_kind AND s.scope_value = b.scope_value AND s.period = b.period
  AND s.period_start = date_trunc(CASE b.period WHEN 'daily' THEN 'day' ELSE 'month' END, now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'`;

const usd = (text: string | null) => (text === null ? null : formatUsd(nanoFromNumericText(text)));

function present(r: Row) {
  const limit = nanoFromNumericText(r.limit_usd);
  const spent = r.spent_usd === null ? 0n : nanoFromNumericText(r.spent_usd);
  return {
    scope_kind: r.scope_kind,
    scope_value: r.scope_value,
    period: r.period,
    limit_usd: formatUsd(limit),
    thresholds: r.thresholds,
    spent_usd: formatUsd(spent),
    used_ratio: Number((spent * 10_000n) / limit) / 10_000,
    forecast_usd: usd(r.forecast_usd),
    forecast_band_usd: r.forecast_low_usd === null ? null : [usd(r.forecast_low_usd), usd(r.forecast_high_usd)],
    projected_exhaustion_at: r.exhaustion_at?.toISOString() ?? null,
    status_at: r.status_updated_at?.toISOString() ?? null,
    updated_at: r.updated_at.toISOString(),
    updated_by: r.updated_by,
  };
}

export async function listScopedBudgets(db: Pool | PoolClient, f: { kind?: string; value?: string; period?: string } = {}) {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.kind !== undefined) where.push(`b.scope_kind = $${params.push(f.kind)}`);
  if (f.value !== undefined) where.push(`b.scope_value = $${params.push(f.value)}`);
  if (f.period !== undefined) where.push(`b.period = $${params.push(f.period)}`);
  const { rows } = await db.query<Row>(`${SELECT} ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY 1, 2, 3 LIMIT 10000`, params);
  return rows.map(present);
}

const subjectOf = (kind: string, value: string) => (kind === 'persona' ? value : `scope:${kind}:${value}`);

async function inTransaction<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Creates or replaces a scoped budget, audited (before, after) in the same transaction. */
export async function putScopedBudget(pool: Pool, kind: string, value: string, period: string, limitNano: bigint, thresholds: ThresholdInput[], actor: Actor) {
  return inTransaction(pool, async (c) => {
    const prior = await c.query('SELECT limit_usd::text AS limit_usd, thresholds FROM scoped_budgets WHERE scope_kind = $1 AND scope_value = $2 AND period = $3 FOR UPDATE', [kind, value, period]);
    await c.query(
      `INSERT INTO scoped_budgets (scope_kind, scope_value, period, limit_usd, thresholds, updated_by) VALUES ($1, $2, $3, $4::numeric, $5::jsonb, $6)
       ON CONFLICT (scope_kind, scope_value, period) DO UPDATE SET limit_usd = excluded.limit_usd, thresholds = excluded.thresholds, updated_by = excluded.updated_by, updated_at = now()`,
      [kind, value, period, formatUsd(limitNano), JSON.stringify(thresholds), actor.name],
    );
    const before = prior.rows[0] ? { scope_kind: kind, scope_value: value, period, limit_usd: formatUsd(nanoFromNumericText(prior.rows[0].limit_usd)), thresholds: prior.rows[0].thresholds } : null;
    const after = { scope_kind: kind, scope_value: value, period, limit_usd: formatUsd(limitNano), thresholds };
    await appendAudit(c, actor, { action: before ? 'scoped_budget.replace' : 'scoped_budget.create', personaId: subjectOf(kind, value), target: `scoped_budget/${kind}:${value}/${period}`, before, after });
    const [budget] = await listScopedBudgets(c, { kind, value, period });
    return { created: before === null, budget };
  });
}

export async function deleteScopedBudget(pool: Pool, kind: string, value: string, period: string, actor: Actor): Promise<boolean> {
  return inTransaction(pool, async (c) => {
    const { rows } = await c.query('DELETE FROM scoped_budgets WHERE scope_kind = $1 AND scope_value = $2 AND period = $3 RETURNING limit_usd::text AS limit_usd, thresholds', [kind, value, period]);
    if (rows[0]) {
      await appendAudit(c, actor, {
        action: 'scoped_budget.delete', personaId: subjectOf(kind, value), target: `scoped_budget/${kind}:${value}/${period}`,
        before: { scope_kind: kind, scope_value: value, period, limit_usd: formatUsd(nanoFromNumericText(rows[0].limit_usd)), thresholds: rows[0].thresholds }, after: null,
      });
    }
    return rows.length > 0;
  });
}

export async function listTeams(pool: Pool, team?: string) {
  const { rows } = await pool.query(
    `SELECT persona_id, team, updated_at, updated_by FROM persona_teams ${team === undefined ? '' : 'WHERE team = $1'} ORDER BY team, persona_id LIMIT 10000`,
    team === undefined ? [] : [team],
  );
  return rows.map((r) => ({ persona_id: r.persona_id, team: r.team, updated_at: r.updated_at.toISOString(), updated_by: r.updated_by }));
}

export async function assignTeam(pool: Pool, personaId: string, team: string, actor: Actor): Promise<{ before: string | null }> {
  return inTransaction(pool, async (c) => {
    const prior = await c.query('SELECT team FROM persona_teams WHERE persona_id = $1 FOR UPDATE', [personaId]);
    await c.query(
      `INSERT INTO persona_teams (persona_id, team, updated_by) VALUES ($1, $2, $3)
       ON CONFLICT (persona_id) DO UPDATE SET team = excluded.team, updated_by = excluded.updated_by, updated_at = now()`,
      [personaId, team, actor.name],
    );
    const before = (prior.rows[0]?.team as string | undefined) ?? null;
    await appendAudit(c, actor, { action: 'team.assign', personaId, target: 'team', before: before === null ? null : { team: before }, after: { team } });
    return { before };
  });
}

export async function unassignTeam(pool: Pool, personaId: string, actor: Actor): Promise<boolean> {
  return inTransaction(pool, async (c) => {
    const { rows } = await c.query('DELETE FROM persona_teams WHERE persona_id = $1 RETURNING team', [personaId]);
    if (rows[0]) await appendAudit(c, actor, { action: 'team.unassign', personaId, target: 'team', before: { team: rows[0].team }, after: null });
    return rows.length > 0;
  });
}
