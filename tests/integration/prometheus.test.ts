import { CostTracker } from '../../producers';
import { OpsServer } from '../../src/http/ops-server';
import { LagCollector } from '../../src/metrics/lag-collector';
import type { Role } from '../../src/roles';
import { roleFactories, roleNames } from '../../app/roles';
import { topics } from '../../src/config';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { HttpReceiver, SmtpReceiver } from '../../testkit/receivers';
import { waitFor } from '../../testkit/wait-for';
import { FAST_ANOMALY_SETTINGS, freePort, localAlertChannels } from '../../testkit/pipeline-settings';
import { dashboardExpressions, Expression, metricNames, ownerRole, PrometheusServer, relaxThresholds, ruleGroups, rulesWithFor, undefinedMetrics } from './prometheus-support';

/**
 * A real Prometheus scrapes the pipeline while the SDK publishes load. Every role of app/roles.ts
 * (storage, anomaly, alerts, breaker, api) runs in-process with one shared OpsServer, like
 * `tsx app/cli.ts run` and scripts/demo.ts, with the demo's fast anomaly settings (2 s windows).
 * Every expression of the Grafana dashboards and of the alert rules is then evaluated through
 * /api/v1/query and must return data; an injected cost spike must make
 * FinOpsCostPerPostThresholdBreach fire, and a persona's spend spike must open an anomaly
 * (FinOpsAnomalyDetected fires), make the breaker apply a control and the alert router notify the
 * local Slack / PagerDuty / SMTP receivers. Slack answers 500 to its first two requests
 * (ALERT_MAX_ATTEMPTS=2), so one delivery is dead-lettered and FinOpsAlertDeliveryFailing has data.
 *
 * Rule timing: the shipped rules keep realistic `for:` durations; the test loads a temporary copy
 * with every `for:` rewritten to 0s (rulesWithFor), so an alert fires on its first true evaluation.
 */
const ROLES_UNDER_TEST = roleNames();
const WINDOW_MS = 2_000;
const TICK_MS = 500;

function allExpressions(): Expression[] {
  const exprs: Expression[] = [...dashboardExpressions()];
  for (const g of ruleGroups()) for (const r of g.rules) exprs.push({ source: `rule ${r.alert ?? r.record}`, expr: relaxThresholds(r.expr) });
  return exprs;
}

describe('dashboard and rule expressions', () => {
  it('name only metrics the code defines (static)', () => {
    const exprs = allExpressions();
    expect(exprs.length).toBeGreaterThanOrEqual(40);
    expect(undefinedMetrics(exprs.map((e) => e.expr))).toEqual([]);
    expect(undefinedMetrics(['sum(rate(finops_anomalys_total[5m]))'])).toEqual(['finops_anomalys_total']);
  });

  it('cover every role', () => {
    const owners = new Set(allExpressions().flatMap((e) => metricNames(e.expr).map(ownerRole)).filter(Boolean));
    for (const role of ROLES_UNDER_TEST.filter((r) => r !== 'storage')) expect(owners).toContain(role);
  });
});

/**
 * Steady load paced by a timer (load generation, not synchronisation): every tick, `postsPerTick`
 * posts of one persona, each an LLM call, a vector query and a pod's runtime.
 */
class PersonaTraffic {
  postsPerTick = 1;
  ticks = 0;
  posts = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<unknown> | undefined;
  private error: unknown;

  constructor(private readonly tracker: CostTracker, private readonly persona: string, private readonly prefix: string) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.inFlight) return; // never pile up ticks on a slow machine
      this.inFlight = this.tick()
        .catch((err) => (this.error ??= err))
        .finally(() => (this.inFlight = undefined));
    }, TICK_MS);
  }

  private async tick(): Promise<void> {
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < this.postsPerTick; i++) {
      const postId = `${this.prefix}-${this.persona}-${this.posts++}`;
      sends.push(this.tracker.trackOpenAICost({ model: 'gpt-4o', inputTokens: 1_200, outputTokens: 400, operation: 'hook_generation', personaId: this.persona, postId }));
      sends.push(this.tracker.trackVectorDbCost({ vectorOperation: 'query', units: 25, personaId: this.persona, postId }));
      sends.push(this.tracker.trackInfrastructureCost({ cpuCores: '0.5', memoryGb: '1', durationMs: 30_000, personaId: this.persona, postId }));
    }
    await Promise.all(sends);
    this.ticks++;
  }

  check(): void {
    if (this.error) throw this.error;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }
}

describe('Prometheus scraping the running pipeline', () => {
  let env: TestEnv;
  let tracker: CostTracker;
  let traffic: PersonaTraffic | undefined;
  const prom = new PrometheusServer();
  const ops = new OpsServer();
  const http = new HttpReceiver();
  const smtp = new SmtpReceiver();
  const roles: Role[] = [];
  let lag: LagCollector;
  let apiPort = 0;
  let ingestPort = 0;
  const personas = ['prom-ua', 'prom-ub', 'prom-uc'];
  const spikePersona = 'prom-spike';
  const anomalyPersona = 'prom-anom';
  const readToken = 'prom-read-token';
  const ingestToken = 'prom-ingest-token';

  beforeAll(async () => {
    await http.start();
    await smtp.start();
    apiPort = await freePort();
    ingestPort = await freePort();
    env = await createTestEnv('prom', {
      METRICS_POST_SETTLE_MS: '300',
      LAG_COLLECTOR_INTERVAL_MS: '500',
      // The demo's fast anomaly settings: a baseline forms in seconds.
      ...FAST_ANOMALY_SETTINGS,
      ANOMALY_WINDOW_MS: String(WINDOW_MS),
      ...localAlertChannels(http.url, smtp.url),
      ALERT_MAX_ATTEMPTS: '2',
      ALERT_RETRY_INITIAL_MS: '50',
      BREAKER_ESCALATE_MIN_INTERVAL_MS: '1000',
      BREAKER_PAUSE_SECONDS: '60',
      API_PORT: String(apiPort),
      API_HOST: '127.0.0.1',
      API_READ_TOKENS: readToken,
      INGEST_PORT: String(ingestPort),
      INGEST_HOST: '127.0.0.1',
      API_INGEST_TOKENS: ingestToken,
    });
    Object.assign(env.overrides, {
      ANOMALY_GROUP_ID: `test.${env.id}.anomaly`,
      ALERT_GROUP_ID: `test.${env.id}.alerts`,
      BREAKER_GROUP_ID: `test.${env.id}.breaker`,
      INGEST_REDIS_PREFIX: `test:${env.id}:ingest:`,
    });
    expect(String(env.overrides.ALERT_PAGERDUTY_ROUTING_KEY)).toHaveLength(32);
    // Slack refuses the first delivery on both attempts: it is dead-lettered (FinOpsAlertDeliveryFailing).
    http.plan('/slack', 500, 500);
    for (const name of ROLES_UNDER_TEST) roles.push(await (await roleFactories[name]())({ overrides: env.overrides, ops }));
    const port = await ops.start(0, '127.0.0.1');
    for (const role of roles) await role.start();
    lag = LagCollector.fromSettings(env.kafka, ROLES_UNDER_TEST, env.overrides);
    await lag.start();
    tracker = new CostTracker({ overrides: env.overrides });
    await prom.start({ target: `127.0.0.1:${port}`, rules: rulesWithFor('0s') });
  });

  afterAll(async () => {
    await traffic?.stop();
    await prom.stop();
    await tracker?.close();
    await lag?.stop();
    for (const role of [...roles].reverse()) await role.stop();
    await ops.stop();
    await http.stop();
    await smtp.stop();
    await env?.close();
  });

  const scalar = async (expr: string) => Number((await prom.query(expr)).data?.result[0]?.value[1] ?? 0);
  const seriesOf = async (expr: string) => JSON.stringify((await prom.query(expr)).data?.result.map((r) => [r.metric, r.value[1]]));
  const firing = async (alertname: string) => (await prom.alerts()).filter((a) => a.labels.alertname === alertname && a.state === 'firing');
  const api = (path: string, token = readToken) => fetch(`http://127.0.0.1:${apiPort}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('evaluates every dashboard and rule expression with data, and fires the cost, anomaly and delivery alerts', async () => {
    // Baseline for the anomaly detector: one post of the anomaly persona every 500 ms from now on.
    traffic = new PersonaTraffic(tracker, anomalyPersona, env.id);
    traffic.start();

    // Load: 3 personas × 40 posts × 3 cost kinds, plus one spike persona's ordinary posts.
    const sends: Promise<unknown>[] = [];
    for (const persona of [...personas, spikePersona]) {
      for (let i = 0; i < 40; i++) {
        const postId = `${env.id}-${persona}-${i}`;
        sends.push(tracker.trackOpenAICost({ model: i % 2 ? 'gpt-4o' : 'gpt-4o-mini', inputTokens: 800, outputTokens: 300, operation: 'hook_generation', personaId: persona, postId }));
        sends.push(tracker.trackInfrastructureCost({ cpuCores: '0.5', memoryGb: '1', durationMs: 2_000, personaId: persona, postId }));
        sends.push(tracker.trackVectorDbCost({ vectorOperation: i % 3 ? 'query' : 'upsert', units: 5, personaId: persona, postId }));
      }
    }
    await Promise.all(sends);
    // The same kinds of cost over HTTP ingest (202 once Kafka acknowledged), and one request without a token (401).
    const overHttp = personas.map((persona, i) => ({ persona_id: persona, post_id: `${env.id}-${persona}-http`, operation: 'hook_generation', cost_type: 'openai_api', llm_usage: { model: 'gpt-4o-mini', input_tokens: 500 + i, output_tokens: 100 } }));
    const ingest = (headers: Record<string, string>) => fetch(`http://127.0.0.1:${ingestPort}/events`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(overHttp) });
    expect((await ingest({ authorization: `Bearer ${ingestToken}` })).status).toBe(202);
    expect((await ingest({})).status).toBe(401);
    // One message that is not Avro: it must be dead-lettered (and show up in the dead-letter metrics).
    const raw = env.kafka.producer();
    await raw.connect();
    await raw.send({ topic: topics(env.overrides).costEvents, messages: [{ key: 'prom-ua', value: Buffer.from('not avro at all') }] });
    await raw.disconnect();

    const expected = sends.length + overHttp.length;
    await waitFor(async () => (await scalar(`sum(finops_cost_events_total)`)) >= expected, { timeoutMs: 60_000, intervalMs: 250, what: `Prometheus to see ${expected} committed cost events` });
    await waitFor(async () => (await scalar('sum(finops_dead_letters_total)')) >= 1, { timeoutMs: 30_000, intervalMs: 250, what: 'dead letter scraped' });
    await waitFor(async () => (await scalar('sum(finops_cost_per_post_usd_count)')) >= 40 * 4, { timeoutMs: 30_000, intervalMs: 250, what: 'settled posts observed in the cost-per-post histogram' });
    await waitFor(async () => (await prom.query('finops_consumer_lag_messages')).data?.result.length, { timeoutMs: 30_000, intervalMs: 250, what: 'consumer lag scraped' });
    // The spike persona's breach counter is known to Prometheus at 0 before the spike.
    await waitFor(async () => (await prom.query(`finops_cost_per_post_threshold_breaches_total{persona_id="${spikePersona}"} == 0`)).data?.result.length, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'breach counter at 0 for the spike persona',
    });

    // The cost spike: one post of gpt-4o generation costing ~$0.10, 5 x the $0.02 target.
    const spike = await tracker.trackOpenAICost({ model: 'gpt-4o', inputTokens: 1_000, outputTokens: 10_000, operation: 'hook_generation', personaId: spikePersona, postId: `${env.id}-spike` });
    expect(Number(spike.amountUsd)).toBeGreaterThan(0.04);
    const fired = await waitFor(async () => (await firing('FinOpsCostPerPostThresholdBreach')).find((a) => a.labels.persona_id === spikePersona), {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'FinOpsCostPerPostThresholdBreach firing',
    });
    // Ordinary personas (and the anomaly persona, whose posts stay cheap) never crossed the line.
    const others = (await firing('FinOpsCostPerPostThresholdBreach')).filter((a) => a.labels.persona_id !== spikePersona);
    expect(others).toEqual([]);

    // The spend spike: once the baseline spans ≥ 4 windows (3 closed ones at least), 8× the posts per tick.
    await waitFor(() => (traffic!.check(), traffic!.ticks >= (4 * WINDOW_MS) / TICK_MS + 2), { timeoutMs: 60_000, intervalMs: 100, what: 'baseline traffic over 4 anomaly windows' });
    traffic.postsPerTick = 8;
    const anomalyFired = await waitFor(async () => {
      traffic!.check();
      const alert = (await firing('FinOpsAnomalyDetected')).find((a) => a.labels.type === 'cost_spike');
      if (alert) return alert;
      throw new Error(`not yet; anomalies: ${await seriesOf('finops_anomalies_total > 0')}; alerts: ${JSON.stringify(await prom.alerts())}`);
    }, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'FinOpsAnomalyDetected firing for a cost_spike',
    });
    // The breaker applies a control, the router notifies every channel (Slack's first delivery dead-lettered).
    await waitFor(async () => (await scalar('max(finops_breaker_controlled_personas)')) >= 1 && (await scalar('sum(finops_breaker_transitions_total)')) >= 1, {
      timeoutMs: 60_000,
      intervalMs: 250,
      what: 'breaker control in force, scraped',
    });
    // Traffic runs until every channel has been reached: email hears only of a critical, and how far
    // spend has climbed when the breaker first acts depends on the machine's speed.
    await waitFor(async () => {
      const r = (await prom.query('sum by (channel, outcome) (finops_alert_deliveries_total) > 0')).data?.result ?? [];
      const has = (channel: string, outcome: string) => r.some((s) => s.metric.channel === channel && s.metric.outcome === outcome);
      return has('slack', 'dead_lettered') && has('slack', 'delivered') && has('pagerduty', 'delivered') && has('email', 'delivered');
    }, { timeoutMs: 60_000, intervalMs: 250, what: 'alert deliveries (slack dead-lettered and delivered, pagerduty and email delivered) scraped' });
    await traffic.stop();
    traffic.check();
    expect(http.accepted('/slack').length).toBeGreaterThanOrEqual(1);
    expect(http.accepted('/pagerduty').length).toBeGreaterThanOrEqual(1);
    expect(smtp.messages.length).toBeGreaterThanOrEqual(1);
    const deliveryFailing = await waitFor(async () => (await firing('FinOpsAlertDeliveryFailing')).find((a) => a.labels.channel === 'slack'), {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'FinOpsAlertDeliveryFailing firing for slack',
    });

    // A few API requests: a post read twice (cache miss, then hit), anomalies, controls, and one refused.
    const post = encodeURIComponent(`${env.id}-${personas[0]}-0`);
    for (const path of [`/costs/post/${post}`, `/costs/post/${post}`, `/anomalies?persona_id=${anomalyPersona}`, '/controls']) expect((await api(path)).status).toBe(200);
    expect((await api('/controls', '')).status).toBe(401);
    await waitFor(async () => (await scalar('sum(finops_api_cache_requests_total{outcome="hit"})')) >= 1 && (await scalar('sum(finops_api_requests_total)')) >= 5, {
      timeoutMs: 30_000,
      intervalMs: 250,
      what: 'API requests and cache hit scraped',
    });

    // Every expression: the dashboards verbatim, the rules with their thresholds relaxed. A rate() over
    // a counter first seen a moment ago needs a second scrape, so each one is polled briefly.
    const exprs = allExpressions();
    const failures: string[] = [];
    const lines: string[] = [];
    for (const { source, expr } of exprs) {
      const r = await waitFor(async () => {
        const res = await prom.query(expr);
        return res.status !== 'success' || res.data?.result.length ? res : undefined;
      }, { timeoutMs: 10_000, intervalMs: 250, what: `${source} to return data` }).catch(() => prom.query(expr));
      const n = r.data?.result.length ?? 0;
      if (r.status !== 'success' || n === 0) failures.push(`${source}: ${expr} → ${r.status} ${r.error ?? 'no data'}`);
      lines.push(`${n > 0 ? 'ok ' : 'NO '} ${String(n).padStart(3)} series  ${source}: ${expr.replace(/\s+/g, ' ').trim()}`);
    }
    // No rule failed to evaluate (e.g. two series with one labelset after the rule's labels are applied).
    const rules = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
    const unhealthy = rules.data.groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok');
    expect(unhealthy.map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);
    const firingNow = (await prom.alerts()).filter((a) => a.state === 'firing');
    console.log(
      `Evaluated ${exprs.length} expressions (roles ${ROLES_UNDER_TEST.join(', ')}; none left out) against Prometheus ${prom.url}:\n${lines.join('\n')}\n\n` +
        `Alerts asserted: ${[fired, anomalyFired, deliveryFailing].map((a) => `${a.labels.alertname}{${Object.entries(a.labels).filter(([k]) => k !== 'alertname').map(([k, v]) => `${k}="${v}"`).join(', ')}} value=${a.value} activeAt=${a.activeAt}`).join('\n  ')}\n` +
        `Alerts firing now (${firingNow.length}):\n  ${firingNow.map((a) => `${a.labels.alertname} ${JSON.stringify(Object.fromEntries(Object.entries(a.labels).filter(([k]) => !['alertname', 'team'].includes(k))))}`).join('\n  ')}\n` +
        `Receivers: slack ${http.accepted('/slack').length} accepted / ${http.requests.filter((r) => r.path === '/slack').length} requests, pagerduty ${http.accepted('/pagerduty').length}, email ${smtp.messages.length}`,
    );
    expect(failures).toEqual([]);
    expect(exprs.length).toBe(63);
  });

  it('relaxes thresholds but keeps a misspelt metric empty (the check can fail)', async () => {
    expect(relaxThresholds('sum(rate(x[5m])) > 0.1 and y == 0')).toBe('sum(rate(x[5m])) != NaN and y != NaN');
    const r = await prom.query(relaxThresholds('sum by (persona_id) (increase(finops_cost_per_post_treshold_breaches_total[5m])) > 0'));
    expect(r.status).toBe('success');
    expect(r.data?.result).toEqual([]);
  });
});
