import { Notification, Origin } from '../../src/notify/notification';
import { CostAnomaly, rootCauseLine, Severity } from '../../src/contracts/anomaly';

export function formatCost(observed: string, unit: string): string {
  return unit === 'usd' ? `$${observed}` : `${observed} ${unit}`;
}

function anomalyLines(a: CostAnomaly): [string, string][] {
  const lines: [string, string][] = [
    ['Type', a.anomaly_type],
    ['Severity', a.severity.toUpperCase()],
    ['Persona', a.persona_id],
    ['Current cost', formatCost(a.observed, a.unit)],
  ];
  if (a.multiplier != null) lines.push(['Multiplier', `${a.multiplier.toFixed(2)}x baseline`]);
  if (a.baseline != null) lines.push(['Baseline', formatCost(a.baseline, a.unit)]);
  if (a.post_id) lines.push(['Post', a.post_id]);
  if (a.scope_kind && a.scope_kind !== 'persona') lines.push(['Budget scope', a.scope_kind === 'global' ? 'global' : `${a.scope_kind} ${a.scope_value}`]);
  const causes = rootCauseLine(a.root_causes);
  if (causes) lines.push(['Root causes', causes]);
  return lines;
}

/** The seed's alert for an anomaly state (open, escalated) or its resolution notice. */
export function anomalyNotification(a: CostAnomaly, origin?: Origin): Notification {
  const resolved = a.status === 'resolved';
  const title = resolved ? '✅ COST ANOMALY RESOLVED' : a.status === 'escalated' ? '🚨 COST ANOMALY ESCALATED' : '🚨 COST ANOMALY DETECTED';
  const mult = a.multiplier != null ? ` ${a.multiplier.toFixed(2)}x baseline` : '';
  return {
    alert_id: a.anomaly_id,
    sequence: a.sequence,
    kind: resolved ? 'resolution' : 'anomaly',
    persona_id: a.persona_id,
    anomaly_type: a.anomaly_type,
    severity: a.severity,
    title,
    lines: anomalyLines(a),
    summary: `${resolved ? 'Resolved' : a.severity.toUpperCase()}: ${a.anomaly_type} for persona ${a.persona_id}, ${formatCost(a.observed, a.unit)}${mult}`,
    dedup_key: a.anomaly_id,
    event_action: resolved ? 'resolve' : 'trigger',
    detail: a.message || undefined,
    occurred_at: a.detected_at,
    origin,
  };
}

/** One notification standing for `count` repeats folded within the grouping interval. */
export function groupNotification(g: { id: string; persona_id: string; anomaly_type: CostAnomaly['anomaly_type']; severity: Severity; leader: string; count: number; intervalMs: number }): Notification {
  const minutes = Math.max(1, Math.round(g.intervalMs / 60_000));
  return {
    alert_id: `group:${g.id}`,
    sequence: 0,
    kind: 'group',
    persona_id: g.persona_id,
    anomaly_type: g.anomaly_type,
    severity: g.severity,
    title: `🔁 ${g.count} MORE COST ANOMAL${g.count === 1 ? 'Y' : 'IES'}`,
    lines: [['Type', g.anomaly_type], ['Severity', g.severity.toUpperCase()], ['Persona', g.persona_id], ['Repeats', `${g.count} in ${minutes} min`]],
    summary: `${g.count} more ${g.anomaly_type} anomalies for persona ${g.persona_id} within ${minutes} min`,
    dedup_key: g.leader,
    event_action: 'trigger',
    count: g.count,
  };
}
