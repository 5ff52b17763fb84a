import { alertsRole } from '../../consumers/alerts';
import { topics } from '../../src/config';
import { OpsServer } from '../../src/http/ops-server';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { AnomalyPublisher, anomaly, HttpReceiver, SmtpReceiver } from '../../testkit/receivers';
import { alertReceivers, readDeadLetters } from '../../testkit/in-process';
import { waitFor } from '../../testkit/wait-for';

describe('alert grouping, dead letters and channel isolation', () => {
  let env: TestEnv;
  let http: HttpReceiver;
  let smtp: SmtpReceiver;
  let publisher: AnomalyPublisher;

  beforeAll(async () => {
    env = await createTestEnv('alertgrp');
    ({ http, smtp } = await alertReceivers(env));
    Object.assign(env.overrides, {
      ALERT_SLACK_TIMEOUT_MS: 300,
      ALERT_PAGERDUTY_TIMEOUT_MS: 300,
      ALERT_RETRY_INITIAL_MS: 50,
      ALERT_RETRY_MAX_MS: 200,
      ALERT_MAX_ATTEMPTS: 3,
      ALERT_GROUP_INTERVAL_MS: 1500,
    });
    publisher = await new AnomalyPublisher(env).start();
    const role = alertsRole({ overrides: env.overrides, ops: new OpsServer() });
    await role.start();
    env.cleanup(() => role.stop());
  });
  afterAll(() => env.close());

  it('folds repeats for one persona and type into one summary with a count, and sends a higher severity at once', async () => {
    const persona = `${env.id}-grp`;
    const mk = (i: number, severity: 'medium' | 'high') => anomaly({ anomaly_id: `${env.id}-g${i}`, persona_id: persona, severity });
    await publisher.publish(mk(0, 'medium'));
    await waitFor(() => http.accepted('/slack').some((r) => r.body.text.includes(persona)), { what: 'first alert' });
    await publisher.publish(mk(1, 'medium'), mk(2, 'medium'), mk(3, 'medium'), mk(4, 'high'), mk(5, 'medium'));
    const forPersona = () => http.accepted('/slack').filter((r) => r.body.text.includes(persona));
    const summary = await waitFor(() => forPersona().find((r) => r.body.text.startsWith('🔁')), { what: 'group summary', timeoutMs: 10_000 });
    expect(summary.body.text).toContain('Repeats: 4 in 1 min');
    // g0 and the higher-severity g4 were sent on their own; g1, g2, g3, g5 folded into the summary.
    expect(forPersona().filter((r) => r.body.text.startsWith('🚨'))).toHaveLength(2);
    // Channels deliver side by side: PagerDuty's copy of the summary may land just after Slack's.
    const paged = () => http.accepted('/pagerduty').filter((r) => r.body.payload?.component === persona);
    await waitFor(() => paged().length >= 2, { what: 'PagerDuty: g4 and the summary', timeoutMs: 10_000 });
    expect(paged()).toHaveLength(2); // g4 (high) and the summary
    const folded = await env.pool.query("SELECT count(*)::int AS n FROM alert_deliveries WHERE persona_id = $1 AND outcome = 'folded'", [persona]);
    expect(folded.rows[0].n).toBe(4);
  });

  it('dead-letters a delivery after its bounded retries while the other channels of the same alert go through at once', async () => {
    const persona = `${env.id}-dlq`;
    http.when((path, body) => (path === '/slack' && JSON.stringify(body).includes(persona) ? 'hang' : undefined));
    const started = Date.now();
    await publisher.publish(anomaly({ anomaly_id: `${env.id}-d1`, persona_id: persona, severity: 'critical' }));
    const pd = await waitFor(() => http.accepted('/pagerduty').find((r) => r.body.dedup_key === `${env.id}-d1`), { what: 'PagerDuty delivery' });
    const mail = await waitFor(() => smtp.messages.find((m) => m.alertId === `${env.id}-d1`), { what: 'email delivery' });
    expect(pd.at - started).toBeLessThan(900); // well before Slack's 3 × 300 ms timeouts have run out
    expect(mail.at - started).toBeLessThan(900);

    const row = await waitFor(async () => (await env.pool.query("SELECT * FROM alert_deliveries WHERE alert_id = $1 AND channel = 'slack' AND outcome = 'dead_lettered'", [`${env.id}-d1`])).rows[0], { what: 'dead-letter audit' });
    expect(row.attempts).toBe(3);
    expect(http.requests.filter((r) => r.path === '/slack' && r.status === 'hung' && JSON.stringify(r.body).includes(persona))).toHaveLength(3);

    const deadLetters = await readDeadLetters(env);
    const dl = await waitFor(() => deadLetters.find((d) => d.headers['alert.id'] === `${env.id}-d1`), { what: 'dead-letter record' });
    expect(dl.headers).toMatchObject({ 'alert.channel': 'slack', 'alert.attempts': '3', 'dlq.reason': 'alert.delivery_retries_exhausted', 'dlq.origin.topic': topics(env.overrides).costAnomalies });
    http.when(undefined);
  });
});
