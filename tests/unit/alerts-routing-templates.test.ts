import { parseRouting, route, seedSeverityRouting } from '../../consumers/alerts/routing';
import { anomalyNotification } from '../../consumers/alerts/templates';
import { emailBody, pagerDutyBody, slackBody } from '../../src/notify/templates';
import { OffsetTracker } from '../../consumers/alerts/offset-tracker';
import { parseRetryAfter } from '../../src/notify/channels/channel';
import { CostAnomaly } from '../../src/contracts/anomaly';

const a = (patch: Partial<CostAnomaly> = {}): CostAnomaly => ({
  anomaly_id: 'an-1', sequence: 1, status: 'open', anomaly_type: 'cost_spike', severity: 'critical', persona_id: 'ai_jesus', post_id: null,
  detected_at: new Date('2025-01-01T00:00:00Z'), window_start: new Date(0), window_end: new Date(0), observed: '0.067', baseline: null,
  threshold: '3', unit: 'usd', multiplier: 3.35, triggering_event_ids: [], trigger_published_at: null, message: '', details: {}, ...patch,
}) as CostAnomaly;

describe('alert routing', () => {
  const seed = parseRouting([], seedSeverityRouting);
  it.each([
    ['critical', ['slack', 'pagerduty', 'email']],
    ['high', ['slack', 'pagerduty']],
    ['medium', ['slack']],
    ['low', ['email']],
  ] as const)('routes %s per the seed', (severity, channels) => {
    expect(route(a({ severity }), seed)).toEqual(channels);
  });

  it('applies the first matching rule on type, persona (with prefix *) and severity before the severity table', () => {
    const cfg = parseRouting(
      [
        { match: { persona_id: ['vip_*'], severity: ['medium'] }, channels: ['pagerduty'] },
        { match: { anomaly_type: ['budget_threshold'] }, channels: ['email', 'email'] },
      ],
      seedSeverityRouting,
    );
    expect(route(a({ persona_id: 'vip_1', severity: 'medium' }), cfg)).toEqual(['pagerduty']);
    expect(route(a({ persona_id: 'other', severity: 'medium' }), cfg)).toEqual(['slack']);
    expect(route(a({ anomaly_type: 'budget_threshold' }), cfg)).toEqual(['email']);
  });

  it('refuses unknown channels with a clear message', () => {
    expect(() => parseRouting([{ match: {}, channels: ['sms'] }], seedSeverityRouting)).toThrow(/ALERT_ROUTES\[0\]: channels must be a list of slack, pagerduty, email/);
  });
});

describe('alert templates', () => {
  it('renders the seed Slack message', () => {
    expect(slackBody(anomalyNotification(a())).text).toBe('🚨 COST ANOMALY DETECTED\nType: cost_spike\nSeverity: CRITICAL\nPersona: ai_jesus\nCurrent cost: $0.067\nMultiplier: 3.35x baseline');
  });

  it.each([['critical', 'critical'], ['high', 'error'], ['medium', 'warning'], ['low', 'info']] as const)('maps severity %s to PagerDuty %s', (sev, pd) => {
    const body = pagerDutyBody(anomalyNotification(a({ severity: sev })), 'k'.repeat(32)) as any;
    expect(body).toMatchObject({ routing_key: 'k'.repeat(32), event_action: 'trigger', dedup_key: 'an-1', payload: { severity: pd, source: 'finops-cost-pipeline' } });
  });

  it('resolves the PagerDuty incident on the anomaly id', () => {
    expect(pagerDutyBody(anomalyNotification(a({ status: 'resolved', sequence: 2 })), 'k')).toEqual({ routing_key: 'k', event_action: 'resolve', dedup_key: 'an-1' });
  });

  it('escapes HTML in the email body', () => {
    const { html, text } = emailBody(anomalyNotification(a({ persona_id: '<script>' })));
    expect(html).toContain('&lt;script&gt;');
    expect(html).not.toContain('<script>');
    expect(text).toContain('Persona: <script>');
  });
});

describe('offset tracking for out-of-order deliveries', () => {
  it('commits only past offsets whose deliveries have all finished', () => {
    const t = new OffsetTracker();
    for (const o of ['10', '11', '12']) t.begin(0, o);
    t.end(0, '11');
    expect(t.takeCommittable()).toEqual([{ partition: 0, offset: '10' }]);
    t.end(0, '10');
    expect(t.takeCommittable()).toEqual([{ partition: 0, offset: '12' }]);
    t.end(0, '12');
    expect(t.takeCommittable()).toEqual([{ partition: 0, offset: '13' }]);
    expect(t.takeCommittable()).toEqual([]);
  });

  it('reads Retry-After as seconds or a date', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});
