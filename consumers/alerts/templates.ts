import { rootCauseLine } from '../../src/contracts/anomaly';
import { CostAnomaly, Severity } from './anomaly';
import { Notification, Origin } from './notification';

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
    anomaly: a,
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

export function slackBody(n: Notification): Record<string, unknown> {
  const text = [`${n.title}`, ...n.lines.map(([k, v]) => `${k}: ${v}`)].join('\n');
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: n.title, emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: n.lines.map(([k, v]) => `*${k}:* ${v}`).join('\n') } },
      ...(n.anomaly?.message ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: n.anomaly.message }] }] : []),
    ],
  };
}

const PD_SEVERITY: Record<Severity, string> = { critical: 'critical', high: 'error', medium: 'warning', low: 'info' };

export function pagerDutyBody(n: Notification, routingKey: string): Record<string, unknown> {
  if (n.event_action === 'resolve') return { routing_key: routingKey, event_action: 'resolve', dedup_key: n.dedup_key };
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: n.dedup_key,
    payload: {
      summary: n.summary.slice(0, 1024),
      source: 'finops-cost-pipeline',
      severity: PD_SEVERITY[n.severity],
      timestamp: (n.anomaly?.detected_at ?? new Date()).toISOString(),
      component: n.persona_id,
      group: 'finops',
      class: n.anomaly_type ?? n.kind,
      custom_details: Object.fromEntries([...n.lines, ['Kind', n.kind], ...(n.anomaly?.message ? [['Message', n.anomaly.message]] : [])]),
    },
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function emailBody(n: Notification): { subject: string; text: string; html: string } {
  const subject = `[FinOps ${n.severity.toUpperCase()}] ${n.summary}`.slice(0, 200);
  const text = [n.title, '', ...n.lines.map(([k, v]) => `${k}: ${v}`), ...(n.anomaly?.message ? ['', n.anomaly.message] : []), '', `Alert id: ${n.alert_id} (state ${n.sequence})`].join('\n');
  const rows = n.lines.map(([k, v]) => `<tr><th align="left" style="padding:2px 12px 2px 0">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
  const html = `<!doctype html><html><body style="font-family:sans-serif"><h2>${escapeHtml(n.title)}</h2><table>${rows}</table>${
    n.anomaly?.message ? `<p>${escapeHtml(n.anomaly.message)}</p>` : ''
  }<p style="color:#888;font-size:12px">Alert id ${escapeHtml(n.alert_id)} (state ${n.sequence})</p></body></html>`;
  return { subject, text, html };
}
