import { anomalyId } from './anomaly-id';
import { SEVERITY_RANK } from '../../src/contracts/anomaly';
import { AnomalyRecord, AnomalyType, Finding, measureOf, Severity } from './types';

/** An anomaly that has been reported and not yet resolved; part of the checkpointed state. */
export interface OpenAnomaly {
  id: string;
  type: AnomalyType;
  sequence: number;
  severity: Severity;
  postId: string | null;
  windowStart: number;
  windowEnd: number;
  /** Start of the latest window that still showed the condition (windowed detectors). */
  lastWindowStart: number;
  firstDetectedAt: number;
  finding: Finding;
  triggeringIds: string[];
}

export interface Report {
  personaId: string;
  /** Detector slot, e.g. cost_spike or budget_threshold:daily; part of the id. */
  slot: string;
  /** What makes the id unique within the slot: window start, budget period start, post id. */
  windowKey: string | number;
  windowStart: number;
  windowEnd: number;
  postId: string | null;
  finding: Finding;
  triggeringIds: string[];
  triggerPublishedAt: number | null;
  now: number;
}

function record(a: OpenAnomaly, personaId: string, status: AnomalyRecord['status'], now: number, triggerPublishedAt: number | null): AnomalyRecord {
  const f = a.finding;
  return {
    anomaly_id: a.id,
    sequence: a.sequence,
    status,
    ...measureOf(f),
    severity: a.severity,
    persona_id: personaId,
    post_id: a.postId,
    detected_at: new Date(now),
    window_start: new Date(a.windowStart),
    window_end: new Date(a.windowEnd),
    observed: f.observed,
    baseline: f.baseline,
    threshold: f.threshold,
    multiplier: f.multiplier !== null && Number.isFinite(f.multiplier) ? f.multiplier : null,
    triggering_event_ids: a.triggeringIds,
    trigger_published_at: triggerPublishedAt === null ? null : new Date(triggerPublishedAt),
    message: f.message,
    details: f.details,
    scope_kind: f.scope?.kind ?? null,
    scope_value: f.scope?.value ?? null,
    root_causes: f.rootCauses ?? [],
  };
}

/**
 * A condition holds: opens an anomaly (sequence 1), or escalates the open one when the severity
 * rose (sequence + 1, status escalated). A repeat at the same or lower severity extends the
 * anomaly's window silently, so a sustained condition pages once.
 */
export function report(open: OpenAnomaly | undefined, r: Report): { anomaly: OpenAnomaly; emitted: AnomalyRecord | null } {
  if (!open) {
    const anomaly: OpenAnomaly = {
      id: anomalyId(r.personaId, r.slot, r.windowKey),
      type: r.finding.type,
      sequence: 1,
      severity: r.finding.severity,
      postId: r.postId,
      windowStart: r.windowStart,
      windowEnd: r.windowEnd,
      lastWindowStart: r.windowStart,
      firstDetectedAt: r.now,
      finding: r.finding,
      triggeringIds: r.triggeringIds,
    };
    return { anomaly, emitted: record(anomaly, r.personaId, 'open', r.now, r.triggerPublishedAt) };
  }
  if (r.windowStart > open.lastWindowStart) {
    open.lastWindowStart = r.windowStart;
    open.windowEnd = Math.max(open.windowEnd, r.windowEnd);
  }
  if (SEVERITY_RANK[r.finding.severity] <= SEVERITY_RANK[open.severity]) return { anomaly: open, emitted: null };
  open.sequence += 1;
  open.severity = r.finding.severity;
  open.finding = r.finding;
  open.triggeringIds = r.triggeringIds;
  return { anomaly: open, emitted: record(open, r.personaId, 'escalated', r.now, r.triggerPublishedAt) };
}

/** The condition cleared: a final state with sequence + 1. */
export function resolve(open: OpenAnomaly, personaId: string, now: number, reason: string): AnomalyRecord {
  open.sequence += 1;
  const rec = record(open, personaId, 'resolved', now, null);
  rec.message = `resolved: ${reason}`;
  rec.details = { ...open.finding.details, resolution: reason };
  return rec;
}
