import type { Pool } from 'pg';
import type { Severity } from '../../src/contracts/anomaly';

export interface AnomalyFilter {
  personaId?: string;
  type?: string;
  severity?: Severity;
  /** open | escalated | resolved, or active (= not resolved) */
  status?: string;
  since?: Date;
  limit: number;
}

/** Newest first. Filters become parameters ($n); no value is ever spliced into the SQL text. */
export async function listAnomalies(pool: Pool, f: AnomalyFilter) {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: (n: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (f.personaId !== undefined) add((n) => `persona_id = ${n}`, f.personaId);
  if (f.type !== undefined) add((n) => `anomaly_type = ${n}`, f.type);
  if (f.severity !== undefined) add((n) => `severity = ${n}`, f.severity);
  if (f.status === 'active') where.push(`status <> 'resolved'`);
  else if (f.status !== undefined) add((n) => `status = ${n}`, f.status);
  if (f.since !== undefined) add((n) => `last_updated_at >= ${n}`, f.since);
  params.push(f.limit);
  const { rows } = await pool.query(
    `SELECT anomaly_id, sequence, status, anomaly_type, severity, persona_id, post_id, window_start, window_end,
            observed::text AS observed, baseline::text AS baseline, threshold::text AS threshold, unit, multiplier,
            triggering_event_ids, message, details, first_detected_at, last_updated_at, resolved_at
     FROM cost_anomalies ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     ORDER BY first_detected_at DESC, anomaly_id LIMIT $${params.length}`,
    params,
  );
  return rows;
}
