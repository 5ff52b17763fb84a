import { alertsRole } from '../../consumers/alerts';
import { Severity } from '../../src/contracts/anomaly';
import { topics } from '../../src/config';
import { OpsServer } from '../../src/http/ops-server';
import { Role } from '../../src/roles';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { AnomalyPublisher, anomaly, HttpReceiver, SmtpReceiver } from '../../testkit/receivers';
import { alertReceivers, committedAll } from '../../testkit/in-process';
import { waitFor } from '../../testkit/wait-for';

const ROUTES: Record<Severity, string[]> = { critical: ['slack', 'pagerduty', 'email'], high: ['slack', 'pagerduty'], medium: ['slack'], low: ['email'] };
const SEVERITIES: Severity[] = ['critical', 'high', 'medium', 'low'];

describe('alert consumer → real Slack/PagerDuty HTTP and SMTP receivers', () => {
  let env: TestEnv;
  let http: HttpReceiver;
  let smtp: SmtpReceiver;
  let publisher: AnomalyPublisher;
  let groupId: string;

  const startRole = async (): Promise<Role> => {
    const role = alertsRole({ overrides: env.overrides, ops: new OpsServer() });
    await role.start();
    return role;
  };

  beforeAll(async () => {
    env = await createTestEnv('alerts');
    groupId = String(env.overrides.ALERT_GROUP_ID);
    ({ http, smtp } = await alertReceivers(env));
    Object.assign(env.overrides, {
      ALERT_EMAIL_TO: 'oncall@example.test,finops@example.test',
      ALERT_SLACK_TIMEOUT_MS: 400,
      ALERT_PAGERDUTY_TIMEOUT_MS: 400,
      ALERT_EMAIL_TIMEOUT_MS: 2000,
      ALERT_RETRY_INITIAL_MS: 50,
      ALERT_RETRY_MAX_MS: 1500,
      ALERT_MAX_ATTEMPTS: 8,
    });
    publisher = await new AnomalyPublisher(env).start();
  });
  afterAll(() => env.close());

  const committedEverything = () => committedAll(env, groupId, topics(env.overrides).costAnomalies);

  it('delivers every routed alert exactly once per channel despite 500s, 429s, hangs, SMTP 451s, redeliveries and a restart', async () => {
    http.plan('/slack', 500, 429, 500, 'hang');
    http.plan('/pagerduty', 'hang', 500, 429);
    smtp.failNext = 2;

    const first = Array.from({ length: 12 }, (_, i) => anomaly({ anomaly_id: `${env.id}-a${i}`, persona_id: `${env.id}-p${i}`, severity: SEVERITIES[i % 4] }));
    const second = Array.from({ length: 8 }, (_, i) => anomaly({ anomaly_id: `${env.id}-b${i}`, persona_id: `${env.id}-q${i}`, severity: SEVERITIES[i % 4] }));
    const all = [...first, ...second];
    const expected = (channel: string) => all.filter((a) => ROUTES[a.severity].includes(channel)).map((a) => a.anomaly_id).sort();

    await publisher.publish(...first);
    let role = await startRole();
    await waitFor(() => http.accepted('/slack').length >= 4, { what: 'some Slack deliveries before the restart' });
    await role.stop(); // graceful: deliveries in hand finish, offsets commit

    // The same records again (a producer retry or a replay), plus new ones, then a new consumer instance.
    await publisher.publish(...first.slice(0, 6), ...second);
    http.plan('/slack', 500);
    smtp.failNext = 1;
    role = await startRole();
    env.cleanup(() => role.stop());

    const ids = (reqs: { body: any }[], pick: (b: any) => string) => reqs.map((r) => pick(r.body)).sort();
    const slackId = (b: any) => /Persona: (\S+)/.exec(b.text)![1].replace('-p', '-a').replace('-q', '-b');
    await waitFor(() => http.accepted('/slack').length >= expected('slack').length && http.accepted('/pagerduty').length >= expected('pagerduty').length && smtp.messages.length >= expected('email').length, { what: 'every routed delivery', timeoutMs: 60_000 });
    await waitFor(committedEverything, { what: 'all offsets committed' });

    expect(ids(http.accepted('/slack'), slackId)).toEqual(expected('slack'));
    expect(ids(http.accepted('/pagerduty'), (b) => b.dedup_key)).toEqual(expected('pagerduty'));
    expect(smtp.messages.map((m) => m.alertId).sort()).toEqual(expected('email'));
    // The failures really happened and were retried.
    expect(http.requests.filter((r) => r.status === 500 || r.status === 429 || r.status === 'hung').length).toBeGreaterThanOrEqual(8);

    const audit = await env.pool.query<{ channel: string; n: number; retried: number }>(
      `SELECT channel, count(*)::int AS n, count(*) FILTER (WHERE attempts > 1)::int AS retried FROM alert_deliveries
        WHERE alert_id = ANY($1) AND outcome = 'delivered' GROUP BY channel ORDER BY channel`, [all.map((a) => a.anomaly_id)]);
    expect(audit.rows.map((r) => [r.channel, r.n])).toEqual([['email', expected('email').length], ['pagerduty', expected('pagerduty').length], ['slack', expected('slack').length]]);
    expect(audit.rows.every((r) => r.retried >= 1)).toBe(true);
    const latency = await env.pool.query('SELECT min(latency_ms) AS min FROM alert_deliveries WHERE alert_id = ANY($1)', [all.map((a) => a.anomaly_id)]);
    expect(latency.rows[0].min).not.toBeNull();
  });

  it('speaks each protocol: the seed Slack text, PagerDuty v2 trigger then resolve on the anomaly id, text + HTML email', async () => {
    const id = `${env.id}-proto`;
    const open = anomaly({ anomaly_id: id, persona_id: 'ai_jesus', severity: 'critical', observed: '0.067', multiplier: 3.35 });
    await publisher.publish(open);
    await waitFor(() => http.accepted('/pagerduty').some((r) => r.body.dedup_key === id) && smtp.messages.some((m) => m.alertId === id), { what: 'critical alert on all channels' });
    const slack = http.accepted('/slack').find((r) => r.body.text.includes('Persona: ai_jesus'))!;
    expect(slack.body.text).toBe('🚨 COST ANOMALY DETECTED\nType: cost_spike\nSeverity: CRITICAL\nPersona: ai_jesus\nCurrent cost: $0.067\nMultiplier: 3.35x baseline\nBaseline: $0.020');
    const pd = http.accepted('/pagerduty').find((r) => r.body.dedup_key === id)!;
    expect(pd.body).toMatchObject({ event_action: 'trigger', dedup_key: id, routing_key: env.overrides.ALERT_PAGERDUTY_ROUTING_KEY, payload: { severity: 'critical', component: 'ai_jesus', class: 'cost_spike' } });
    const mail = smtp.messages.find((m) => m.alertId === id)!;
    expect(mail.subject).toContain('[FinOps CRITICAL]');
    expect(mail.raw).toMatch(/Content-Type: text\/plain/);
    expect(mail.raw).toMatch(/Content-Type: text\/html/);
    expect(mail.to).toEqual(['oncall@example.test', 'finops@example.test']);

    await publisher.publish({ ...open, sequence: 2, status: 'resolved' });
    await waitFor(() => http.accepted('/pagerduty').some((r) => r.body.dedup_key === id && r.body.event_action === 'resolve'), { what: 'PagerDuty resolve' });
    await waitFor(() => http.accepted('/slack').some((r) => r.body.text.startsWith('✅ COST ANOMALY RESOLVED') && r.body.text.includes('ai_jesus')), { what: 'Slack resolution notice' });
    await waitFor(() => smtp.messages.some((m) => m.alertId === id && m.sequence === '2'), { what: 'email resolution notice' });
  });
});
