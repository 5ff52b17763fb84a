/**
 * Control benchmark on the real pipeline, all roles in this process (shared OpsServer, like
 * scripts/demo.ts): cost events through the SDK CostTracker → anomaly consumer (2 s windows) →
 * alert consumer → Slack/PagerDuty/SMTP receivers, and → circuit breaker → Redis → CostGuard.
 *
 * BENCH_PERSONAS (default 100) personas each spend a steady baseline (two 60 s pod records per
 * 2 s window) for BENCH_BASELINE_WINDOWS (4) windows; then, BENCH_RATE (20) personas a second,
 * each persona's spend spikes: one runaway record worth 10 baseline windows, which the anomaly
 * consumer reports as one critical cost_spike (→ Slack, PagerDuty, email; → throttle).
 *
 *  - anomaly_to_delivery: Kafka timestamp of the anomaly record → the receiver accepting it, per
 *    (anomaly, channel) delivery of the open state.
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
import { sleep } from '../src/retry'; // logs nothing, so safe before LOG_LEVEL is set

process.env.LOG_LEVEL ??= 'error';

const PERSONAS = Number(process.env.BENCH_PERSONAS ?? 100);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const BASELINE_WINDOWS = Number(process.env.BENCH_BASELINE_WINDOWS ?? 4);
const WINDOW_MS = 2000;
const TICK_MS = 100;
const CHANNELS = ['slack', 'pagerduty', 'email'] as const; // a critical anomaly goes to all three
const say = (msg: string) => process.stderr.write(`[bench:control] ${msg}\n`);
const p = (xs: number[], q: number) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * q) - 1)] : null);

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
  const spikeRecord = { cpuCores: '40', memoryGb: '80', durationMs: 60_000 } as const; // 20 units ≈ 10 baseline windows
  await sleep(WINDOW_MS - (Date.now() % WINDOW_MS)); // pace to a window boundary
  const started = Date.now();
  const spikeFrom = started + BASELINE_WINDOWS * WINDOW_MS;
  say(`${PERSONAS} personas, baseline for ${BASELINE_WINDOWS} windows of ${WINDOW_MS} ms, then ${RATE} spikes/s`);
  let next = 0;
  for (let tick = 0; next < PERSONAS; tick++) {
    const t = started + tick * TICK_MS;
    if (t > Date.now()) await sleep(t - Date.now());
    const sends: Promise<unknown>[] = [];
    const due = Date.now() >= spikeFrom ? Math.min(PERSONAS, Math.floor(((Date.now() - spikeFrom) / 1000) * RATE) + 1) : 0;
    for (; next < due; next++) {
      const persona = personas[next];
      sentAt.set(persona, Date.now());
      sends.push(tracker.trackInfrastructureCost({ ...spikeRecord, operation: 'runaway_render', personaId: persona, service: 'render' }));
    }
    for (let i = next; i < PERSONAS; i++) {
      if ((tick + i) % 10 === 0) sends.push(tracker.trackInfrastructureCost({ ...unit, operation: 'render', personaId: personas[i], service: 'render' }));
    }
    await Promise.all(sends);
  }
  say(`all ${PERSONAS} spikes sent after ${((Date.now() - started) / 1000).toFixed(1)} s`);

  const open = () => records.filter((r) => r.value.status !== 'resolved');
  const personaOf = new Map<string, string>();
  const collect = () => {
    for (const r of records) personaOf.set(r.value.anomaly_id, r.value.persona_id);
    const got: { key: string; at: number }[] = [];
    for (const r of http.accepted('/slack')) got.push({ key: `${/Persona: (\S+)/.exec(r.body.text)?.[1]}|slack|${r.body.text.includes('RESOLVED') ? 'resolved' : 'open'}`, at: r.at });
    for (const r of http.accepted('/pagerduty')) got.push({ key: `${personaOf.get(r.body.dedup_key)}|pagerduty|${r.body.event_action === 'resolve' ? 'resolved' : 'open'}`, at: r.at });
    for (const m of smtp.messages) got.push({ key: `${personaOf.get(m.alertId)}|email|${records.find((r) => r.value.anomaly_id === m.alertId && String(r.value.sequence) === m.sequence)?.value.status === 'resolved' ? 'resolved' : 'open'}`, at: m.at });
    return got;
  };
  const expected = new Set(personas.flatMap((persona) => CHANNELS.map((c) => `${persona}|${c}|open`)));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && ([...expected].some((k) => !collect().some((g) => g.key === k)) || guardSeen.size < PERSONAS)) await sleep(200);
  await sleep(1000); // a late duplicate would show up here

  const got = collect();
  const counts = new Map<string, number>();
  for (const g of got) counts.set(g.key, (counts.get(g.key) ?? 0) + 1);
  const duplicates = [...counts.values()].reduce((s, n) => s + Math.max(0, n - 1), 0);
  const lost = [...expected].filter((k) => !counts.has(k)).length;
  const firstAt = new Map<string, number>();
  for (const g of got) if (expected.has(g.key) && (!firstAt.has(g.key) || firstAt.get(g.key)! > g.at)) firstAt.set(g.key, g.at);
  const anomalyAt = new Map(open().map((r) => [r.value.persona_id, r] as const));
  const deliveryLatency = [...firstAt].map(([k, at]) => at - anomalyAt.get(k.split('|')[0])!.at);
  const guardLatency = [...guardSeen].map(([persona, at]) => at - anomalyAt.get(persona)!.value.trigger_published_at!.getTime());
  const guardFromSend = [...guardSeen].map(([persona, at]) => at - sentAt.get(persona)!);
  const severities = new Map<string, number>();
  for (const r of open()) severities.set(`${r.value.status}:${r.value.severity}`, (severities.get(`${r.value.status}:${r.value.severity}`) ?? 0) + 1);
  say(`anomaly states ${JSON.stringify(Object.fromEntries(severities))}; deliveries ${firstAt.size}/${expected.size}; guard saw ${guardSeen.size}/${PERSONAS} controls`);
  say(`p50 anomaly→delivery ${p(deliveryLatency, 0.5)} ms, p50 crossing→guard ${p(guardLatency, 0.5)} ms`);

  await sub.quit();
  await reader.disconnect();
  await guard.close();
  await tracker.close();
  for (const r of roles.reverse()) await r.stop();
  await http.stop();
  await smtp.stop();
  await env.close();
  process.stdout.write(`${JSON.stringify({
    anomalies: open().length,
    deliveries: firstAt.size,
    duplicates,
    lost,
    anomaly_to_delivery_p99_ms: p(deliveryLatency, 0.99),
    spike_to_guard_p99_ms: p(guardLatency, 0.99),
    spike_to_guard_measured_from: 'trigger_published_at (Kafka timestamp of the cost event that crossed the threshold)',
    spike_to_guard_from_send_p99_ms: p(guardFromSend, 0.99),
    personas: PERSONAS,
    guard_enforced: guardSeen.size,
  })}\n`);
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
