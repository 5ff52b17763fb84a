import type { Severity } from '../contracts/anomaly';
import { Notification } from './notification';

/** How a notification reads on each channel: Slack blocks, a PagerDuty v2 event, an email. */
export function slackBody(n: Notification): Record<string, unknown> {
  const text = [`${n.title}`, ...n.lines.map(([k, v]) => `${k}: ${v}`)].join('\n');
  return {
    text,
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: n.title, emoji: true } },
      { type: 'section', text: { type: 'mrkdwn', text: n.lines.map(([k, v]) => `*${k}:* ${v}`).join('\n') } },
      ...(n.detail ? [{ type: 'context', elements: [{ type: 'mrkdwn', text: n.detail }] }] : []),
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
      timestamp: (n.occurred_at ?? new Date()).toISOString(),
      component: n.persona_id,
      group: 'finops',
      class: n.anomaly_type ?? n.kind,
      custom_details: Object.fromEntries([...n.lines, ['Kind', n.kind], ...(n.detail ? [['Message', n.detail]] : [])]),
    },
  };
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export function emailBody(n: Notification): { subject: string; text: string; html: string } {
  const subject = `[FinOps ${n.severity.toUpperCase()}] ${n.summary}`.slice(0, 200);
  const text = [n.title, '', ...n.lines.map(([k, v]) => `${k}: ${v}`), ...(n.detail ? ['', n.detail] : []), '', `Alert id: ${n.alert_id} (state ${n.sequence})`].join('\n');
  const rows = n.lines.map(([k, v]) => `<tr><th align="left" style="padding:2px 12px 2px 0">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('');
  const html = `<!doctype html><html><body style="font-family:sans-serif"><h2>${escapeHtml(n.title)}</h2><table>${rows}</table>${
    n.detail ? `<p>${escapeHtml(n.detail)}</p>` : ''
  }<p style="color:#888;font-size:12px">Alert id ${escapeHtml(n.alert_id)} (state ${n.sequence})</p></body></html>`;
  return { subject, text, html };
}
