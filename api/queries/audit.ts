import type { Pool, PoolClient } from 'pg';

export type AuditAction =
  | 'budget.create' | 'budget.replace' | 'budget.delete' | 'control.resume' | 'control.override' | 'ledger.reprice'
  | 'scoped_budget.create' | 'scoped_budget.replace' | 'scoped_budget.delete' | 'team.assign' | 'team.unassign';

/** Who did it: the token's configured name and its id (a SHA-256 prefix), and the request. */
export interface Actor {
  name: string;
  tokenId: string;
  requestId: string;
}

export interface AuditEntry {
  action: AuditAction;
  personaId: string;
  target: string;
  before: unknown;
  after: unknown;
}

/** Appends one entry (on `db`: a pool, or the client of the transaction that made the change). */
export async function appendAudit(db: Pool | PoolClient, actor: Actor, e: AuditEntry): Promise<void> {
  await db.query(
    `INSERT INTO api_audit_log (actor, token_id, action, persona_id, target, before, after, request_id) VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8)`,
    [actor.name, actor.tokenId, e.action, e.personaId, e.target, e.before === undefined ? null : JSON.stringify(e.before), e.after === undefined ? null : JSON.stringify(e.after), actor.requestId],
  );
}

export interface AuditFilter {
  personaId?: string;
  action?: string;
  actor?: string;
  since?: Date;
  /** Entries older than this audit id (the cursor). */
  beforeId?: string;
  limit: number;
}

interface AuditRow {
  audit_id: string;
  at: Date;
  actor: string;
  token_id: string;
  action: AuditAction;
  persona_id: string;
  target: string;
  before: unknown;
  after: unknown;
  request_id: string;
}

/** Newest first; one more row than the page is read to know whether another page follows. */
export async function listAudit(pool: Pool, f: AuditFilter) {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (n: string) => string, value: unknown) => where.push(sql(`$${params.push(value)}`));
  if (f.personaId !== undefined) add((n) => `persona_id = ${n}`, f.personaId);
  if (f.action !== undefined) add((n) => `action = ${n}`, f.action);
  if (f.actor !== undefined) add((n) => `actor = ${n}`, f.actor);
  if (f.since !== undefined) add((n) => `at >= ${n}`, f.since);
  if (f.beforeId !== undefined) add((n) => `audit_id < ${n}::bigint`, f.beforeId);
  params.push(f.limit + 1);
  const { rows } = await pool.query<AuditRow>(
    // ORDER BY names the table's column: the bare name would sort the text alias ("10" before "9").
    `SELECT audit_id::text AS audit_id, at, actor, token_id, action, persona_id, target, before, after, request_id
     FROM api_audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY api_audit_log.audit_id DESC LIMIT $${params.length}`,
    params,
  );
  return {
    entries: rows.slice(0, f.limit).map((r) => ({ ...r, at: r.at.toISOString() })),
    more: rows.length > f.limit,
  };
}
