import { Pool } from 'pg';
import { DependencyError } from '../../src/errors';
import { AnomalyRecord } from './types';

const UPSERT_SQL = `
INSERT INTO cost_anomalies AS a (anomaly_id, sequence, status, anomaly_type, severity, persona_id, post_id, window_start, window_end,
  observed, baseline, threshold, unit, multiplier, triggering_event_ids, message, details, first_detected_at, last_updated_at, resolved_at)
SELECT anomaly_id, sequence, status, anomaly_type, severity, persona_id, post_id, window_start, window_end,
  observed::numeric, baseline::numeric, threshold::numeric, unit, multiplier, triggering_event_ids, message, details,
  first_detected_at, last_updated_at, resolved_at
FROM jsonb_to_recordset($1::jsonb) AS x(anomaly_id text, sequence int, status text, anomaly_type text, severity text, persona_id text,
  post_id text, window_start timestamptz, window_end timestamptz, observed text, baseline text, threshold text, unit text,
  multiplier float8, triggering_event_ids text[], message text, details jsonb, first_detected_at timestamptz,
  last_updated_at timestamptz, resolved_at timestamptz)
ON CONFLICT (anomaly_id) DO UPDATE SET
  sequence = excluded.sequence, status = excluded.status, severity = excluded.severity, window_end = excluded.window_end,
  observed = excluded.observed, baseline = excluded.baseline, threshold = excluded.threshold, multiplier = excluded.multiplier,
  triggering_event_ids = excluded.triggering_event_ids, message = excluded.message, details = excluded.details,
  last_updated_at = excluded.last_updated_at, resolved_at = excluded.resolved_at
WHERE a.sequence < excluded.sequence`;

/** The API's and audit trail's view of anomalies: one row per anomaly id, at its latest sequence. */
export class AnomalyStore {
  constructor(private readonly pool: Pool) {}

  async upsert(records: AnomalyRecord[]): Promise<void> {
    if (records.length === 0) return;
    // One row per id per statement (ON CONFLICT cannot touch a row twice): the latest state wins.
    const latest = new Map<string, { r: AnomalyRecord; first: Date }>();
    for (const r of records) {
      const prev = latest.get(r.anomaly_id);
      if (!prev) latest.set(r.anomaly_id, { r, first: r.detected_at });
      else if (r.sequence > prev.r.sequence) latest.set(r.anomaly_id, { r, first: prev.first });
    }
    const rows = [...latest.values()].map(({ r, first }) => ({
      ...r,
      observed: r.observed,
      first_detected_at: first.toISOString(),
      last_updated_at: r.detected_at.toISOString(),
      resolved_at: r.status === 'resolved' ? r.detected_at.toISOString() : null,
    }));
    try {
      await this.pool.query(UPSERT_SQL, [JSON.stringify(rows)]);
    } catch (err) {
      throw new DependencyError('postgres', `storing anomalies: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Latest stored sequence of every anomaly updated since `since`: what a replay must not publish again. */
  async publishedSince(since: Date): Promise<Map<string, number>> {
    try {
      const { rows } = await this.pool.query('SELECT anomaly_id, sequence FROM cost_anomalies WHERE last_updated_at >= $1', [since]);
      return new Map(rows.map((r) => [r.anomaly_id as string, Number(r.sequence)]));
    } catch (err) {
      throw new DependencyError('postgres', `loading published anomalies: ${(err as Error).message}`, { cause: err });
    }
  }
}
