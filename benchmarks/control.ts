/**
 * Control benchmark: anomaly records → alert consumer → Slack/PagerDuty/SMTP receivers (healthy),
 * and → circuit breaker → Redis → CostGuard.
 *
 *  - anomaly_to_delivery: Kafka timestamp of the anomaly record → the receiver accepting it, per
 *    (anomaly, channel) delivery.
 *  - spike_to_guard: the anomaly's trigger_published_at → a CostGuard (notified over pub/sub, as in
 *    a service) answering with the throttle in force. The anomaly records are published here, so
 *    trigger time = anomaly publish time (the anomaly consumer's own detection time is not included).
 *
 * BENCH_ANOMALIES (default 300) anomalies for as many personas, published at BENCH_RATE per second
 * (default 30). The last line printed is one JSON object with the figures.
 */
import { Client } from 'pg';
import Redis from 'ioredis';
import { alertsRole } from '../consumers/alerts';
import { breakerRole } from '../consumers/breaker';
import { Severity } from '../consumers/alerts/anomaly';
import { CostGuard } from '../producers';
import { CONTROL_CHANNEL } from '../src/contracts/controls';
import { setting } from '../src/config';
import { createPool } from '../src/db/pool';
import { migrate } from '../src/db/migrate';
import { OpsServer } from '../src/http/ops-server';
import { createTestEnv } from '../tests/helpers/fixtures';
import { AnomalyPublisher, anomaly, HttpReceiver, SmtpReceiver } from '../tests/helpers/receivers';

const N = Number(process.env.BENCH_ANOMALIES ?? 300);
const RATE = Number(process.env.BENCH_RATE ?? 30);
const ROUTES: Record<Severity, string[]> = { critical: ['slack', 'pagerduty', 'email'], high: ['slack', 'pagerduty'], medium: ['slack'], low: ['email'] };
const SEVERITIES: Severity[] = ['critical', 'high', 'medium', 'low'];
const say = (msg: string) => process.stderr.write(`[bench:control] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const p99 = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.99) - 1)] : null);

async function benchDatabase(): Promise<string> {
  const url = new URL(setting('DATABASE_URL'));
  url.pathname = '/finops_control_bench';
  const admin = new Client({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() });
  await admin.connect();
  if (!(await admin.query("SELECT 1 FROM pg_database WHERE datname = 'finops_control_bench'")).rowCount) await admin.query('CREATE DATABASE finops_control_bench');
  await admin.end();
  const pool = createPool({ DATABASE_URL: url.toString() });
  await migrate(pool);
  await pool.end();
  return url.toString();
}

async function main(): Promise<void> {
  const databaseUrl = await benchDatabase();
  const http = new HttpReceiver();
  const smtp = new SmtpReceiver();
  const [url, smtpUrl] = await Promise.all([http.start(), smtp.start()]);
  const env = await createTestEnv('benchctl', { DATABASE_URL: databaseUrl });
  Object.assign(env.overrides, {
    ALERT_GROUP_ID: `bench.${env.id}.alerts`, BREAKER_GROUP_ID: `bench.${env.id}.breaker`,
    ALERT_SLACK_WEBHOOK_URL: `${url}/slack`, ALERT_PAGERDUTY_URL: `${url}/pagerduty`, ALERT_PAGERDUTY_ROUTING_KEY: 'R0123456789abcdef0123456789abcdE',
    ALERT_SMTP_URL: smtpUrl, ALERT_EMAIL_TO: 'oncall@example.test', ALERT_GROUP_INTERVAL_MS: 0,
  });
  const publisher = await new AnomalyPublisher(env).start();
  const roles = [alertsRole({ overrides: env.overrides, ops: new OpsServer() }), breakerRole({ overrides: env.overrides, ops: new OpsServer() })];
  for (const r of roles) await r.start();
  const guard = await new CostGuard({ overrides: env.overrides }).start();

  // The "service": on each control notice, ask the guard what is in force, as a caller would.
  const triggerAt = new Map<string, number>();
  const guardSeen = new Map<string, number>();
  const sub = new Redis(setting('REDIS_URL', env.overrides));
  await sub.subscribe(CONTROL_CHANNEL);
  sub.on('message', (_c, persona: string) => {
    if (!triggerAt.has(persona) || guardSeen.has(persona)) return;
    void guard.control(persona).then(({ control }) => {
      if (control && control.level !== 'normal' && control.requests_per_minute) guardSeen.set(persona, Date.now());
    });
  });

  const anomalies = Array.from({ length: N }, (_, i) => anomaly({ anomaly_id: `${env.id}-a${i}`, persona_id: `${env.id}-p${i}`, severity: SEVERITIES[i % 4], multiplier: 3.5 }));
  const expected = new Set<string>();
  for (const a of anomalies) for (const c of ROUTES[a.severity]) expected.add(`${a.anomaly_id}|${c}`);
  say(`publishing ${N} anomalies at ${RATE}/s; expecting ${expected.size} deliveries`);
  const started = Date.now();
  const batch = Math.max(1, Math.round(RATE / 10));
  for (let i = 0; i < N; i += batch) {
    const slice = anomalies.slice(i, i + batch).map((a) => ({ ...a, trigger_published_at: new Date() }));
    for (const a of slice) triggerAt.set(a.persona_id, Date.now());
    await publisher.publish(...slice);
    const due = started + ((i + batch) / RATE) * 1000;
    if (due > Date.now()) await sleep(due - Date.now());
  }

  const personaToId = (p: string) => p.replace(/-p(\d+)$/, '-a$1');
  const collect = () => {
    const got: { key: string; at: number }[] = [];
    for (const r of http.accepted('/slack')) got.push({ key: `${personaToId(/Persona: (\S+)/.exec(r.body.text)![1])}|slack`, at: r.at });
    for (const r of http.accepted('/pagerduty')) got.push({ key: `${r.body.dedup_key}|pagerduty`, at: r.at });
    for (const m of smtp.messages) got.push({ key: `${m.alertId}|email`, at: m.at });
    return got;
  };
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline && (new Set(collect().map((g) => g.key)).size < expected.size || guardSeen.size < N)) await sleep(100);
  await sleep(1000); // a late duplicate would show up here

  const got = collect();
  const counts = new Map<string, number>();
  for (const g of got) counts.set(g.key, (counts.get(g.key) ?? 0) + 1);
  const duplicates = [...counts.values()].reduce((s, n) => s + Math.max(0, n - 1), 0);
  const lost = [...expected].filter((k) => !counts.has(k)).length;
  const firstAt = new Map<string, number>();
  for (const g of got) if (!firstAt.has(g.key) || firstAt.get(g.key)! > g.at) firstAt.set(g.key, g.at);
  const deliveryLatency = [...firstAt].map(([k, at]) => at - publisher.publishedAt.get(`${k.split('|')[0]}:1`)!);
  const guardLatency = [...guardSeen].map(([p, at]) => at - triggerAt.get(p)!);
  say(`deliveries ${firstAt.size}/${expected.size}, guard saw ${guardSeen.size}/${N} controls; p50 delivery ${deliveryLatency.sort((a, b) => a - b)[Math.floor(deliveryLatency.length / 2)]} ms`);

  await sub.quit();
  await guard.close();
  for (const r of roles.reverse()) await r.stop();
  await http.stop();
  await smtp.stop();
  await env.close();
  process.stdout.write(`${JSON.stringify({
    anomalies: N,
    deliveries: firstAt.size,
    duplicates,
    lost,
    anomaly_to_delivery_p99_ms: p99(deliveryLatency),
    spike_to_guard_p99_ms: p99(guardLatency),
    spike_to_guard_measured_from: 'anomaly publish (records published by the bench)',
    guard_enforced: guardSeen.size,
  })}\n`);
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
