import { alertsRole } from '../../consumers/alerts';
import { CostAnomaly } from '../../src/contracts/anomaly';
import { Overrides, topics } from '../../src/config';
import { OpsServer } from '../../src/http/ops-server';
import { Role } from '../../src/roles';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { AnomalyPublisher, anomaly, HttpReceiver, SmtpReceiver } from '../../testkit/receivers';
import { alertReceivers, committedAll } from '../../testkit/in-process';
import { waitFor } from '../../testkit/wait-for';

const WINDOW_MS = 1500;

describe('escalation coalescing on the real stack (ALERT_ESCALATION_COALESCE_MS)', () => {
  let env: TestEnv;
  let http: HttpReceiver;
  let smtp: SmtpReceiver;
  let publisher: AnomalyPublisher;
  const roles: Role[] = [];

  const startRole = async (extra: Overrides = {}): Promise<Role> => {
    const role = alertsRole({ overrides: { ...env.overrides, ...extra }, ops: new OpsServer() });
    await role.start();
    roles.push(role);
    return role;
  };
  const stopRole = async (role: Role) => {
    roles.splice(roles.indexOf(role), 1);
    await role.stop();
  };

  /** One spike's staircase: open at 3.06× (medium), then escalated (high), escalated (critical). */
  const staircase = (id: string, persona: string): CostAnomaly[] => [
    anomaly({ anomaly_id: id, persona_id: persona, sequence: 1, status: 'open', severity: 'medium', multiplier: 3.06 }),
    anomaly({ anomaly_id: id, persona_id: persona, sequence: 2, status: 'escalated', severity: 'high', multiplier: 3.6 }),
    anomaly({ anomaly_id: id, persona_id: persona, sequence: 3, status: 'escalated', severity: 'critical', multiplier: 6.1 }),
  ];
  const slackFor = (persona: string) => http.accepted('/slack').filter((r) => r.body.text.includes(`Persona: ${persona}\n`));
  const pagerDutyFor = (id: string) => http.accepted('/pagerduty').filter((r) => r.body.dedup_key === id);
  const mailFor = (id: string) => smtp.messages.filter((m) => m.alertId === id);

  const committedEverything = (groupId: string) => committedAll(env, groupId, topics(env.overrides).costAnomalies);

  beforeAll(async () => {
    env = await createTestEnv('alertcoal');
    ({ http, smtp } = await alertReceivers(env));
    Object.assign(env.overrides, { ALERT_RETRY_INITIAL_MS: 50, ALERT_ESCALATION_COALESCE_MS: WINDOW_MS });
    publisher = await new AnomalyPublisher(env).start();
    env.cleanup(async () => {
      for (const r of [...roles]) await stopRole(r);
    });
  });
  afterAll(() => env.close());

  it('a burst of escalations sends the open notice at once and one follow-up at the highest severity; PagerDuty keeps one incident', async () => {
    const role = await startRole();
    const id = `${env.id}-burst`;
    const persona = `${env.id}-pb`;
    await publisher.publish(...staircase(id, persona));
    const open = await waitFor(() => slackFor(persona)[0], { what: 'the open notice' });
    expect(open.body.text).toMatch(/^🚨 COST ANOMALY DETECTED\n.*Severity: MEDIUM/s);
    const followUp = await waitFor(() => slackFor(persona)[1], { what: 'the follow-up', timeoutMs: 10_000 });
    expect(followUp.body.text).toMatch(/^🚨 COST ANOMALY ESCALATED\n.*Severity: CRITICAL\n.*Multiplier: 6\.10x baseline.*Escalations: 2 since the last notice/s);
    expect(followUp.at - open.at).toBeGreaterThanOrEqual(WINDOW_MS / 2); // held for the window, not sent per step
    await waitFor(() => pagerDutyFor(id).length >= 1 && mailFor(id).length >= 1, { what: 'the follow-up on PagerDuty and email' });
    await new Promise((r) => setTimeout(r, WINDOW_MS + 500)); // a late extra notice would show up here
    expect(slackFor(persona)).toHaveLength(2);
    // Medium opened on Slack only; the critical follow-up reaches PagerDuty (one incident: dedup_key = anomaly id) and email.
    expect(pagerDutyFor(id).map((r) => [r.body.event_action, r.body.payload.severity])).toEqual([['trigger', 'critical']]);
    expect(mailFor(id).map((m) => m.sequence)).toEqual(['3']);
    const rows = await env.pool.query<{ sequence: number; channel: string; outcome: string }>(
      'SELECT sequence, channel, outcome FROM alert_deliveries WHERE alert_id = $1 ORDER BY sequence, channel', [id]);
    expect(rows.rows.map((r) => `${r.sequence}:${r.channel}:${r.outcome}`)).toEqual([
      '1:slack:delivered', '2:email:coalesced', '2:pagerduty:coalesced', '2:slack:coalesced', '3:email:delivered', '3:pagerduty:delivered', '3:slack:delivered',
    ]);
    await stopRole(role);
  });

  it('a resolution within the window sends the held escalations first: the critical reaches email and PagerDuty, then the resolution', async () => {
    const role = await startRole();
    const id = `${env.id}-quick`;
    const persona = `${env.id}-pq`;
    const resolved = anomaly({ anomaly_id: id, persona_id: persona, sequence: 4, status: 'resolved', severity: 'critical', multiplier: 1.1 });
    await publisher.publish(...staircase(id, persona), resolved);
    await waitFor(() => pagerDutyFor(id).length >= 2 && mailFor(id).length >= 2 && slackFor(persona).length >= 3, { what: 'follow-up and resolution on every channel', timeoutMs: 10_000 });
    expect(pagerDutyFor(id).map((r) => [r.body.event_action, r.body.payload?.severity ?? null])).toEqual([['trigger', 'critical'], ['resolve', null]]);
    expect(mailFor(id).map((m) => m.sequence)).toEqual(['3', '4']);
    expect(slackFor(persona).map((r) => r.body.text.split('\n')[0])).toEqual(['🚨 COST ANOMALY DETECTED', '🚨 COST ANOMALY ESCALATED', expect.stringMatching(/RESOLVED/)]);
    await stopRole(role);
  });

  it('an escalation after the window is its own notice, sent without waiting', async () => {
    const role = await startRole();
    const id = `${env.id}-late`;
    const persona = `${env.id}-pl`;
    const [open, high] = staircase(id, persona);
    await publisher.publish(open);
    await waitFor(() => slackFor(persona)[0], { what: 'the open notice' });
    await new Promise((r) => setTimeout(r, WINDOW_MS + 200));
    await publisher.publish(high);
    const escalated = await waitFor(() => slackFor(persona)[1], { what: 'the escalation' });
    expect(escalated.body.text).toMatch(/^🚨 COST ANOMALY ESCALATED\n.*Severity: HIGH/s);
    expect(escalated.body.text).not.toContain('Escalations:');
    await waitFor(() => pagerDutyFor(id).length, { what: 'the escalation on PagerDuty' });
    expect(pagerDutyFor(id).map((r) => r.body.payload.severity)).toEqual(['error']);
    await stopRole(role);
  });

  it('a held follow-up is sent on shutdown, its offset committed after it, and a replay of everything sends nothing again', async () => {
    const groupId = `test.${env.id}.alerts-shutdown`;
    const role = await startRole({ ALERT_GROUP_ID: groupId, ALERT_ESCALATION_COALESCE_MS: 600_000 });
    const id = `${env.id}-stop`;
    const persona = `${env.id}-ps`;
    await publisher.publish(...staircase(id, persona));
    await waitFor(() => slackFor(persona)[0], { what: 'the open notice' });
    // Wait until the consumer has read the escalations (they are held, so the committed offset stays below them).
    await waitFor(async () => (await env.pool.query("SELECT 1 FROM alert_deliveries WHERE alert_id = $1 AND sequence = 1 AND outcome = 'delivered'", [id])).rowCount, { what: 'open delivered' });
    await new Promise((r) => setTimeout(r, 500));
    expect(slackFor(persona)).toHaveLength(1); // held: the window is ten minutes
    await stopRole(role);
    expect(slackFor(persona).map((r) => r.body.text.split('\n')[0])).toEqual(['🚨 COST ANOMALY DETECTED', '🚨 COST ANOMALY ESCALATED']);
    expect(pagerDutyFor(id)).toHaveLength(1);

    expect(await committedEverything(groupId)).toBe(true);

    // A new group reads every record of this file again: every state is already delivered or coalesced.
    const before = { slack: http.accepted('/slack').length, pd: http.accepted('/pagerduty').length, mail: smtp.messages.length };
    const replay = await startRole({ ALERT_GROUP_ID: `test.${env.id}.alerts-replay` });
    await waitFor(() => committedEverything(`test.${env.id}.alerts-replay`), { what: 'the replay committed everything', timeoutMs: 20_000 });
    expect({ slack: http.accepted('/slack').length, pd: http.accepted('/pagerduty').length, mail: smtp.messages.length }).toEqual(before);
    await stopRole(replay);
  });
});
