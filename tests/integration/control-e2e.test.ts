import type avro from 'avsc';
import Redis from 'ioredis';
import { createControlAdmin } from '../../consumers/breaker';
import { CostGuard, PausedError, ThrottledError } from '../../producers';
import { avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { setting, topics } from '../../src/config';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { AnomalyPublisher, anomaly, HttpReceiver, SmtpReceiver } from '../../testkit/receivers';
import { alertReceivers, guardFor, startRoles } from '../../testkit/in-process';
import { waitFor } from '../../testkit/wait-for';

/**
 * End to end on the real stack: anomaly records (published here as the anomaly consumer does) →
 * alert consumer → Slack/PagerDuty/SMTP receivers, and → circuit breaker → Redis → CostGuard in a
 * test "service". Every guard check is timed from the anomaly's publication.
 */
describe('spike → alerts and graduated controls obeyed by the SDK guard → recovery', () => {
  let env: TestEnv;
  let http: HttpReceiver;
  let smtp: SmtpReceiver;
  let publisher: AnomalyPublisher;
  let guard: CostGuard;
  let redis: Redis;

  beforeAll(async () => {
    env = await createTestEnv('controle2e');
    ({ http, smtp } = await alertReceivers(env));
    Object.assign(env.overrides, {
      BREAKER_THROTTLE_RPM: '{"critical":30,"high":40,"medium":45,"low":50}',
      BREAKER_ESCALATE_MIN_INTERVAL_MS: 100,
      BREAKER_PAUSE_SECONDS: 3,
      BREAKER_PROBE_SECONDS: 1,
      BREAKER_COOLDOWN_SECONDS: 600,
      BREAKER_TICK_MS: 100,
    });
    publisher = await new AnomalyPublisher(env).start();
    await startRoles(env, ['alerts', 'breaker']);
    guard = await guardFor(env);
    redis = new Redis(setting('REDIS_URL', env.overrides));
    env.cleanup(() => redis.disconnect());
  });
  afterAll(() => env.close());

  /** Polls the guard the way a service would, until `check` holds; returns ms since `since`. */
  async function obeyedWithin(since: number, check: () => Promise<boolean>, what: string): Promise<number> {
    await waitFor(check, { what, timeoutMs: 5000, intervalMs: 20 });
    return Date.now() - since;
  }

  it('throttles, then switches model, then pauses as spend keeps rising; the guard obeys each within a second; recovers after', async () => {
    const persona = `${env.id}-ai_jesus`;
    const spike = (i: number, extra = {}) => anomaly({ anomaly_id: `${env.id}-s${i}`, persona_id: persona, severity: 'critical', multiplier: 3 + i, ...extra });

    // 1. The injected spike: alerts on all three channels, and a throttle.
    let t0 = Date.now();
    await publisher.publish(spike(1));
    const throttleMs = await obeyedWithin(t0, async () => {
      try {
        await guard.acquire(persona, 'gpt-4o', { maxWaitMs: 0 });
        return false; // still allowed: burst not yet exhausted, or no control yet
      } catch (err) {
        return err instanceof ThrottledError;
      }
    }, 'throttle enforced');
    expect(throttleMs).toBeLessThan(1000);
    expect((await guard.control(persona)).control).toMatchObject({ level: 'throttle', requests_per_minute: 30 });
    await waitFor(() => http.accepted('/slack').some((r) => r.body.text.includes(persona)) && http.accepted('/pagerduty').some((r) => r.body.dedup_key === `${env.id}-s1`) && smtp.messages.some((m) => m.alertId === `${env.id}-s1`), { what: 'Slack, PagerDuty and email for the spike' });

    // 2. Spend still rising: model switch.
    t0 = Date.now();
    await publisher.publish(spike(2));
    const switchMs = await obeyedWithin(t0, async () => (await guard.control(persona)).control?.level === 'switch_model', 'switch seen by guard');
    expect(switchMs).toBeLessThan(1000);
    const decision = await guard.acquire(persona, 'gpt-4o', { maxWaitMs: 5000 });
    expect(decision).toMatchObject({ model: 'gpt-3.5-turbo-0125', level: 'switch_model' });
    expect((await guard.acquire(persona, 'gpt-4', { maxWaitMs: 5000 })).model).toBe('gpt-3.5-turbo-0125');

    // 3. Still rising: pause.
    t0 = Date.now();
    await publisher.publish(spike(3));
    let paused: PausedError | undefined;
    const pauseMs = await obeyedWithin(t0, async () => {
      try {
        await guard.acquire(persona, 'gpt-4o', { maxWaitMs: 0 });
        return false;
      } catch (err) {
        if (err instanceof PausedError) paused = err;
        return err instanceof PausedError;
      }
    }, 'pause enforced');
    expect(pauseMs).toBeLessThan(1000);
    expect(paused!.resumeAt.getTime()).toBeGreaterThan(Date.now());

    // 4. Spend back to normal: the anomalies resolve; after the pause, a half-open probe, then normal.
    await publisher.publish(spike(1, { sequence: 2, status: 'resolved' }), spike(2, { sequence: 2, status: 'resolved' }), spike(3, { sequence: 2, status: 'resolved' }));
    await waitFor(async () => (await guard.control(persona)).control?.probing === true, { what: 'half-open probe', timeoutMs: 8000, intervalMs: 50 });
    const normal = await waitFor(async () => {
      const d = await guard.acquire(persona, 'gpt-4o', { maxWaitMs: 3000 });
      return d.level === 'normal' ? d : null;
    }, { what: 'recovered to normal', timeoutMs: 8000, intervalMs: 100 });
    expect(normal.model).toBe('gpt-4o');
    await waitFor(() => http.accepted('/pagerduty').some((r) => r.body.dedup_key === `${env.id}-s1` && r.body.event_action === 'resolve'), { what: 'PagerDuty resolve' });

    // Every transition audited in Postgres and published (Avro, keyed by persona) on the controls topic.
    const audit = await env.pool.query('SELECT to_level, cause, probing FROM control_transitions WHERE persona_id = $1 ORDER BY at, recorded_at', [persona]);
    expect(audit.rows.map((r) => `${r.to_level}:${r.cause}`)).toEqual(['throttle:trigger', 'switch_model:escalate', 'pause:escalate', 'throttle:probe', 'normal:recover']);
    const reader: avro.Type = avroType(loadSchema('cost-control'));
    const records: { key: string; value: any }[] = [];
    const consumer = env.kafka.consumer({ groupId: `test.${env.id}.controls-reader` });
    await consumer.connect();
    env.cleanup(() => consumer.disconnect());
    await consumer.subscribe({ topics: [topics(env.overrides).costControls], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void records.push({ key: String(message.key), value: (await env.codec.decode(message.value, reader)).value }) });
    await waitFor(() => records.filter((r) => r.key === persona).length >= 5, { what: 'control records on Kafka' });
    expect(records.filter((r) => r.key === persona).map((r) => r.value.to_level)).toEqual(['throttle', 'switch_model', 'pause', 'throttle', 'normal']);
  });

  it('lets an operator resume a throttled persona through ControlAdmin, audited, and the guard sees it within a second', async () => {
    const persona = `${env.id}-manual`;
    await publisher.publish(anomaly({ anomaly_id: `${env.id}-m1`, persona_id: persona, severity: 'high', multiplier: 4 }));
    await waitFor(async () => (await guard.control(persona)).control?.level === 'throttle', { what: 'throttle' });
    const admin = createControlAdmin({ redis, pool: env.pool, kafka: env.kafka, overrides: env.overrides });
    env.cleanup(() => admin.close());
    expect((await admin.list()).map((c) => c.persona_id)).toContain(persona);
    const t0 = Date.now();
    const state = await admin.resume(persona, 'ops@example.test', 'false positive');
    expect(state).toMatchObject({ level: 'normal', manual: true });
    await waitFor(async () => (await guard.acquire(persona, 'gpt-4o', { maxWaitMs: 0 })).level === 'normal', { what: 'guard sees resume', timeoutMs: 1000, intervalMs: 20 });
    expect(Date.now() - t0).toBeLessThan(1000);
    expect((await admin.list()).map((c) => c.persona_id)).not.toContain(persona);
    const audit = await env.pool.query("SELECT actor, cause FROM control_transitions WHERE persona_id = $1 AND cause = 'resume'", [persona]);
    expect(audit.rows).toEqual([{ actor: 'ops@example.test', cause: 'resume' }]);
  });
});
