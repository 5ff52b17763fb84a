/**
 * Control benchmark on the real pipeline, all roles in this process (shared OpsServer, like
 * scripts/demo.ts): cost events through the SDK CostTracker → anomaly consumer (2 s windows) →
 * alert consumer → Slack/PagerDuty/SMTP receivers, and → circuit breaker → Redis → CostGuard.
 *
 * BENCH_PERSONAS (default 100) personas each spend a steady baseline (two 60 s pod records per
 * 2 s window) for BENCH_BASELINE_WINDOWS (4) windows; then, BENCH_RATE (20) personas a second,
 * each persona's spend spikes by a runaway worth 10 baseline windows. BENCH_SPIKE says how it
 * arrives: `staircase` (default), three records 400 ms apart (6, 3 and 11 units) that the anomaly
 * consumer reports as one cost_spike opening at about 3-4× and escalating to critical within a
 * second, the burst escalation coalescing exists for; `jump`, one record, reported as one
 * critical cost_spike at once (→ Slack, PagerDuty, email; → throttle).
 *
 *  - Alert delivery, split in two (benchmarks/alert-latency.ts), because escalation coalescing
 *    (ALERT_ESCALATION_COALESCE_MS, default 3 s) holds an anomaly's escalations on purpose:
 *    - first_notice: Kafka timestamp of the anomaly's open record → the receiver accepting its
 *      first notice, per channel the open state routes to. Coalescing never holds it; the ≤ 1 s bar.
 *    - follow_up: for an anomaly that escalated (a spike reported at 3.06× opens medium, then
 *      escalates to high and critical), the receiver accepting the one follow-up at the highest
 *      severity, per channel of that severity: from the open record (about the coalescing window
 *      by design) and from the record of the last escalation it stands for.
 *  - spike_to_guard: the anomaly's trigger_published_at (Kafka timestamp of the cost event that
 *    crossed the threshold, set by the anomaly consumer) → a CostGuard, notified over pub/sub as
 *    in a service, answering with the control in force. Also reported from the bench's own send
 *    time of that event (spike_to_guard_from_send_p99_ms), as a cross-check.
 *
 * Logs go nowhere unless LOG_LEVEL is set (default here: error; kafkajs warns on every idempotent producer), so the last stdout line is the
 * JSON object with the figures. Modules that log are imported after LOG_LEVEL is set.
 */
import { FAST_ANOMALY_SETTINGS, localAlertChannels } from '../testkit/pipeline-settings';
import type { CostAnomaly } from '../src/contracts/anomaly';
import { alertLatency, Notice, quantile as p } from './alert-latency';
import { sleep } from '../src/retry'; // logs nothing, so safe before LOG_LEVEL is set

process.env.LOG_LEVEL ??= 'error';

const PERSONAS = Number(process.env.BENCH_PERSONAS ?? 100);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const BASELINE_WINDOWS = Number(process.env.BENCH_BASELINE_WINDOWS ?? 4);
/** The runaway's records: [ms after the first, units of 2 cores / 4 GB for 60 s]. */
const SPIKE_STEPS: [number, number][] = process.env.BENCH_SPIKE === 'jump' ? [[0, 20]] : [[0, 6], [400, 3], [800, 11]];
const WINDOW_MS = 2000;
const TICK_MS = 100;
const say = (msg: string) => process.stderr.write(`[bench:control] ${msg}\n`);

async function main(): Promise<void> {
  const { default: Redis } = await import('ioredis');
  const { CostGuard, CostTracker } = await import('../producers');
  const { CONTROL_CHANNEL } = await import('../src/contracts/controls');
  const { setting, topics } = await import('../src/config');
  const { migratedDatabase } = await import('../testkit/bench-database');
  const { OpsServer } = await import('../src/http/ops-server');
  const { roleFactories } = await import('../app/roles');
  const { avroType } = await import('../src/avro/codec');
  const { loadSchema } = await import('../src/avro/schemas');
  const { createTestEnv } = await import('../testkit/fixtures');
  const { HttpReceiver, SmtpReceiver } = await import('../testkit/receivers');
  const { alertSettings } = await import('../consumers/alerts/settings');

  // A database of its own, migrated.
  const dbUrl = await migratedDatabase('finops_control_bench');

  const http = new HttpReceiver();
  const smtp = new SmtpReceiver();
  const [url, smtpUrl] = await Promise.all([http.start(), smtp.start()]);
  const env = await createTestEnv('benchctl', { DATABASE_URL: dbUrl });
  Object.assign(env.overrides, {
    ANOMALY_GROUP_ID: `bench.${env.id}.anomaly`, ALERT_GROUP_ID: `bench.${env.id}.alerts`, BREAKER_GROUP_ID: `bench.${env.id}.breaker`,
    ...FAST_ANOMALY_SETTINGS, ANOMALY_WINDOW_MS: String(WINDOW_MS), ANOMALY_BASELINE_WINDOWS: '20', ANOMALY_TICK_MS: '100',
    ...localAlertChannels(url, smtpUrl),
    BREAKER_ESCALATE_MIN_INTERVAL_MS: '1000',
  });
  const ops = new OpsServer();
  const roles = [];
  for (const name of ['anomaly', 'alerts', 'breaker']) {
    const role = await (await roleFactories[name]())({ overrides: env.overrides, ops });
    await role.start();
    roles.push(role);
  }
  const tracker = new CostTracker({ overrides: env.overrides });
  const guard = await new CostGuard({ overrides: env.overrides }).start();

  // Every anomaly state with its Kafka timestamp.
  const anomalyType = avroType(loadSchema('cost-anomaly'));
  const records: { value: CostAnomaly; at: number }[] = [];
  const reader = env.kafka.consumer({ groupId: `bench.${env.id}.reader`, maxWaitTimeInMs: 50 });
  await reader.connect();
  await reader.subscribe({ topics: [topics(env.overrides).costAnomalies], fromBeginning: true });
  await reader.run({ eachMessage: async ({ message }) => void records.push({ value: (await env.codec.decode<CostAnomaly>(message.value, anomalyType)).value, at: Number(message.timestamp) }) });

  // The "service": on each control notice, ask the guard what is in force until it answers with it.
  const personas = Array.from({ length: PERSONAS }, (_, i) => `${env.id}-p${i}`);
  const sentAt = new Map<string, number>();
  const guardSeen = new Map<string, number>();
  const watching = new Set<string>();
  const sub = new Redis(setting('REDIS_URL', env.overrides));
  await sub.subscribe(CONTROL_CHANNEL);
  sub.on('message', (_c, persona: string) => {
    if (!sentAt.has(persona) || guardSeen.has(persona) || watching.has(persona)) return;
    watching.add(persona);
    void (async () => {
      for (let i = 0; i < 500 && !guardSeen.has(persona); i++) {
        const { control } = await guard.control(persona);
        if (control && control.level !== 'normal' && control.requests_per_minute) guardSeen.set(persona, Date.now());
        else await sleep(10);
      }
      watching.delete(persona);
    })();
  });

  // Traffic on a 100 ms tick: baseline for every persona not yet spiked; then spikes at RATE/s.
  const unit = { cpuCores: '2', memoryGb: '4', durationMs: 60_000 } as const; // ≈ $0.001336
  const runaway: { persona: string; at: number; units: number }[] = [];
  await sleep(WINDOW_MS - (Date.now() % WINDOW_MS)); // pace to a window boundary
  const started = Date.now();
  const spikeFrom = started + BASELINE_WINDOWS * WINDOW_MS;
  say(`${PERSONAS} personas, baseline for ${BASELINE_WINDOWS} windows of ${WINDOW_MS} ms, then ${RATE} spikes/s as ${JSON.stringify(SPIKE_STEPS)}`);
  let next = 0;
  for (let tick = 0; next < PERSONAS || runaway.length; tick++) {
    const t = started + tick * TICK_MS;
    if (t > Date.now()) await sleep(t - Date.now());
    const sends: Promise<unknown>[] = [];
    const due = Date.now() >= spikeFrom ? Math.min(PERSONAS, Math.floor(((Date.now() - spikeFrom) / 1000) * RATE) + 1) : 0;
    for (; next < due; next++) {
      const persona = personas[next];
      sentAt.set(persona, Date.now());
      for (const [after, units] of SPIKE_STEPS) runaway.push({ persona, at: Date.now() + after, units });
    }
    for (const step of runaway.filter((r) => r.at <= Date.now())) {
      runaway.splice(runaway.indexOf(step), 1);
      const record = { cpuCores: String(2 * step.units), memoryGb: String(4 * step.units), durationMs: 60_000 };
      sends.push(tracker.trackInfrastructureCost({ ...record, operation: 'runaway_render', personaId: step.persona, service: 'render' }));
    }
    for (let i = next; i < PERSONAS; i++) {
      if ((tick + i) % 10 === 0) sends.push(tracker.trackInfrastructureCost({ ...unit, operation: 'render', personaId: personas[i], service: 'render' }));
    }
    await Promise.all(sends);
  }
  say(`all ${PERSONAS} spikes sent after ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const { routing, coalesceMs } = alertSettings(env.overrides);
  const notices = (): Notice[] => {
    const anomalyOf = new Map(records.filter((r) => r.value.status === 'open').map((r) => [r.value.persona_id, r.value.anomaly_id] as const));
    const resolvedState = new Set(records.filter((r) => r.value.status === 'resolved').map((r) => `${r.value.anomaly_id}:${r.value.sequence}`));
    return [
      ...http.accepted('/slack').map((r) => ({ anomalyId: anomalyOf.get(/Persona: (\S+)/.exec(r.body.text)?.[1] ?? '') ?? '', channel: 'slack' as const, resolved: r.body.text.includes('RESOLVED'), body: r.body.text, at: r.at })),
      ...http.accepted('/pagerduty').map((r) => ({ anomalyId: r.body.dedup_key, channel: 'pagerduty' as const, resolved: r.body.event_action === 'resolve', body: JSON.stringify(r.body), at: r.at })),
      ...smtp.messages.map((m) => ({ anomalyId: m.alertId, channel: 'email' as const, resolved: resolvedState.has(`${m.alertId}:${m.sequence}`), body: m.sequence, at: m.at })),
    ];
  };
  const measure = () => alertLatency(records, notices(), routing, coalesceMs);
  const deadline = Date.now() + 60_000;
  for (let m = measure(); Date.now() < deadline && (m.anomalies < PERSONAS || m.lost > 0 || guardSeen.size < PERSONAS); m = measure()) await sleep(200);
  await sleep(coalesceMs + 1000); // the last follow-up, and a late duplicate, would show up here
  const m = measure();

  const anomalyAt = new Map(records.filter((r) => r.value.status === 'open').map((r) => [r.value.persona_id, r] as const));
  const guardLatency = [...guardSeen].map(([persona, at]) => at - anomalyAt.get(persona)!.value.trigger_published_at!.getTime());
  const guardFromSend = [...guardSeen].map(([persona, at]) => at - sentAt.get(persona)!);
  const severities = new Map<string, number>();
  for (const r of records) severities.set(`${r.value.status}:${r.value.severity}`, (severities.get(`${r.value.status}:${r.value.severity}`) ?? 0) + 1);
  say(`anomaly states ${JSON.stringify(Object.fromEntries(severities))}; deliveries ${m.delivered}/${m.expected}; guard saw ${guardSeen.size}/${PERSONAS} controls`);
  say(`p50 first notice ${p(m.first_notice_ms, 0.5)} ms, p50 follow-up from open ${p(m.follow_up_from_open_ms, 0.5)} ms (coalescing ${coalesceMs} ms), p50 crossing→guard ${p(guardLatency, 0.5)} ms`);

  await sub.quit();
  await reader.disconnect();
  await guard.close();
  await tracker.close();
  for (const r of roles.reverse()) await r.stop();
  await http.stop();
  await smtp.stop();
  await env.close();
  process.stdout.write(`${JSON.stringify({
    anomalies: m.anomalies,
    anomaly_states: m.anomaly_states,
    deliveries: m.delivered,
    expected_deliveries: m.expected,
    duplicates: m.duplicates,
    lost: m.lost,
    first_notice_p50_ms: p(m.first_notice_ms, 0.5),
    first_notice_p99_ms: p(m.first_notice_ms, 0.99),
    escalation_coalesce_ms: coalesceMs,
    follow_up_from_open_p50_ms: p(m.follow_up_from_open_ms, 0.5),
    follow_up_from_open_p99_ms: p(m.follow_up_from_open_ms, 0.99),
    follow_up_from_last_escalation_p99_ms: p(m.follow_up_from_last_escalation_ms, 0.99),
    notices_per_anomaly_max: m.notices_per_anomaly_max,
    spike_to_guard_p99_ms: p(guardLatency, 0.99),
    spike_to_guard_measured_from: 'trigger_published_at (Kafka timestamp of the cost event that crossed the threshold)',
    spike_to_guard_from_send_p99_ms: p(guardFromSend, 0.99),
    personas: PERSONAS,
    spike: process.env.BENCH_SPIKE === 'jump' ? 'jump' : 'staircase',
    guard_enforced: guardSeen.size,
  })}\n`);
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
