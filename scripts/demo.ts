/**
 * The whole pipeline end to end on the local stack, in one process: every role runs, a demo
 * publisher sends steady traffic for three personas through the SDK, then one persona's spend
 * spikes. Local receivers stand in for Slack, PagerDuty and an SMTP server, speaking their real
 * protocols. The script prints what happened at each step, read back from the API, Postgres and
 * the receivers.
 *
 * Windows are 2 s here (1 min in production) so a baseline forms in seconds.
 */
import { randomBytes } from 'node:crypto';
import { CostGuard, CostTracker, PausedError } from '../producers';
import { Overrides } from '../src/config';
import { createPool } from '../src/db/pool';
import { OpsServer } from '../src/http/ops-server';
import { sleep } from '../src/retry';
import type { Role } from '../src/roles';
import { roleFactories } from '../app/roles';
import { runMigrations, setupTopics } from '../src/setup';
import { HttpReceiver, SmtpReceiver } from '../testkit/receivers';
import { waitFor } from '../testkit/wait-for';
import { FAST_ANOMALY_SETTINGS, freePort, localAlertChannels } from '../testkit/pipeline-settings';
import { runNames } from '../testkit/run-names';

const out = (line = '') => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const run = `demo${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const http = new HttpReceiver();
  const smtp = new SmtpReceiver();
  await http.start();
  await smtp.start();
  const apiPort = await freePort();
  const overrides: Overrides = {
    ...runNames('', run),
    ...FAST_ANOMALY_SETTINGS,
    ...localAlertChannels(http.url, smtp.url),
    BREAKER_ESCALATE_MIN_INTERVAL_MS: '1000',
    BREAKER_PAUSE_SECONDS: '60',
    API_PORT: String(apiPort),
    API_HOST: '127.0.0.1',
    API_READ_TOKENS: 'demo-read',
    API_OPERATOR_TOKENS: 'demo-operator',
    METRICS_PORT: '0',
  };
  for (const [k, v] of Object.entries(overrides)) process.env[k] = String(v);

  out(`▶ FinOps pipeline demo (run ${run})`);
  await runMigrations(overrides);
  await setupTopics(overrides);
  const ops = new OpsServer();
  const roles: Role[] = [];
  for (const name of ['storage', 'anomaly', 'alerts', 'breaker', 'api']) {
    roles.push(await (await roleFactories[name]())({ overrides, ops }));
  }
  const metricsPort = await ops.start(0, '127.0.0.1');
  for (const role of roles) await role.start();
  out(`  roles running: ${roles.map((r) => r.name).join(', ')}; metrics on :${metricsPort}, API on :${apiPort}`);

  const tracker = new CostTracker({ overrides });
  const guard = await new CostGuard({ overrides }).start();
  const pool = createPool(overrides);
  const api = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, { headers: { authorization: 'Bearer demo-read' } });
    return res.json() as Promise<any>;
  };
  const personas = [`${run}-ai_jesus`, `${run}-tech_guru`, `${run}-chef_ai`];
  const spiker = personas[0];

  try {
    // 1. Steady traffic: each persona makes a post every 500 ms (an LLM call, a vector query, a pod minute).
    out('\n▶ 1. Steady traffic for 12 s: 3 personas, one post each every 500 ms');
    let posts = 0;
    const refused: Record<string, number> = {};
    const switched = new Set<string>();
    const publishPost = async (persona: string, model: string, outputTokens: number) => {
      // The service asks the guard first and obeys: no call (and no spend) when refused.
      let allowed: string;
      try {
        allowed = (await guard.acquire(persona, model, { maxWaitMs: 0 })).model;
      } catch (err) {
        const why = err instanceof PausedError ? 'paused' : (err as Error).name;
        refused[why] = (refused[why] ?? 0) + 1;
        return undefined;
      }
      if (allowed !== model) switched.add(`${model} → ${allowed}`);
      const postId = `${persona}-post-${posts++}`;
      await Promise.all([
        tracker.trackOpenAICost({ model: allowed, inputTokens: 1200, outputTokens, operation: 'hook_generation', personaId: persona, postId, correlationId: `corr-${postId}`, requestId: `req-${postId}` }),
        tracker.trackVectorDbCost({ vectorOperation: 'query', units: 25, operation: 'retrieval', personaId: persona, postId, correlationId: `corr-${postId}` }),
        tracker.trackInfrastructureCost({ cpuCores: '0.5', memoryGb: '1', durationMs: 30_000, operation: 'render', personaId: persona, postId, service: 'persona_runtime' }),
        tracker.trackOutcome({ postId, personaId: persona, follows: 2, engagements: 40, revenueUsd: '0.03' }),
      ]);
      return postId;
    };
    const steadyUntil = Date.now() + 12_000;
    let samplePost: string | undefined;
    while (Date.now() < steadyUntil) {
      const made = await Promise.all(personas.map((p) => publishPost(p, 'gpt-4o', 400)));
      samplePost ??= made[0];
      await sleep(500);
    }
    out(`  published ${posts} posts (${posts * 3} cost events, ${posts} outcomes)`);

    // 2. What one post cost, and why: from the API.
    await waitFor(async () => (await api(`/costs/post/${encodeURIComponent(samplePost!)}`)).total_cost, { what: 'the sample post in the API' });
    const breakdown = await api(`/costs/post/${encodeURIComponent(samplePost!)}`);
    out(`\n▶ 2. GET /costs/post/${samplePost}`);
    out(`  total ${breakdown.total_cost} USD = ${Object.entries(breakdown.cost_breakdown).map(([k, v]) => `${k} ${v}`).join(' + ')}`);
    out(`  attribution confidence ${breakdown.accuracy_score}; ${breakdown.audit_trail?.length ?? 0} events in the audit trail, e.g.:`);
    const first = breakdown.audit_trail?.[0];
    if (first) out(`    ${JSON.stringify(first).slice(0, 220)}`);

    // 3. A spike: the first persona starts writing 10× longer outputs, several posts at once.
    out(`\n▶ 3. Spike: ${spiker} switches to 10× longer outputs at 4× the rate`);
    const spikeStarted = Date.now();
    const spikeUntil = Date.now() + 14_000;
    const guardLevels: string[] = [];
    while (Date.now() < spikeUntil) {
      await Promise.all([
        ...[0, 1, 2, 3].map(() => publishPost(spiker, 'gpt-4o', 6000)),
        ...personas.slice(1).map((p) => publishPost(p, 'gpt-4o', 400)),
      ]);
      const decision = await guard.control(spiker);
      const level = decision.control?.level ?? 'normal';
      if (guardLevels[guardLevels.length - 1] !== level) {
        guardLevels.push(level);
        out(`  +${((Date.now() - spikeStarted) / 1000).toFixed(1)} s  CostGuard for ${spiker}: ${level}${decision.control?.model_map && Object.keys(decision.control.model_map).length ? ` (models ${JSON.stringify(decision.control.model_map)})` : ''}${decision.control?.requests_per_minute ? ` (${decision.control.requests_per_minute} req/min)` : ''}`);
      }
      await sleep(500);
    }

    out(`  calls the guard refused for ${spiker}: ${JSON.stringify(refused)}; model switches applied: ${[...switched].join(', ') || 'none'}`);

    // 4. What the pipeline saw and did.
    await sleep(1500);
    const anomalies = await api(`/anomalies?persona_id=${encodeURIComponent(spiker)}`);
    out(`\n▶ 4. GET /anomalies?persona_id=${spiker}`);
    for (const a of anomalies.anomalies ?? anomalies.items ?? []) {
      out(`  ${a.anomaly_type} ${a.severity} (${a.status}): observed ${a.observed} ${a.unit}, baseline ${a.baseline ?? '-'}, ×${a.multiplier ?? '-'}`);
    }
    out(`\n▶ 5. Notifications received by the local receivers`);
    for (const r of http.accepted('/slack')) out(`  Slack      ${String(r.body.text ?? '').split('\n').slice(0, 2).join(' | ').slice(0, 160)}`);
    for (const r of http.accepted('/pagerduty')) out(`  PagerDuty  ${r.body.event_action} ${r.body.payload?.severity ?? ''} dedup_key=${r.body.dedup_key}`);
    for (const m of smtp.messages) out(`  Email      to ${m.to.join(',')}: ${m.subject}`);
    const controls = await api('/controls');
    out(`\n▶ 6. GET /controls`);
    for (const c of (controls.controls ?? controls.items ?? []).filter((c: { persona_id: string }) => personas.includes(c.persona_id))) {
      out(`  ${c.persona_id}: ${c.level} — ${c.reason}`);
    }

    const stored = (await pool.query('SELECT count(*)::int AS n, sum(amount_usd)::text AS usd FROM cost_events WHERE persona_id = ANY($1)', [personas])).rows[0];
    const dead = (await pool.query('SELECT count(*)::int AS n FROM dead_letters WHERE source_topic = $1', [overrides.TOPIC_COST_EVENTS])).rows[0];
    const today = new Date().toISOString().slice(0, 10);
    const spend = await api(`/costs/breakdown?start_date=${today}T00:00:00Z&end_date=${today}T23:59:59Z&persona_id=${encodeURIComponent(spiker)}`);
    out(`\n▶ 7. Totals`);
    out(`  Postgres: ${stored.n} cost events stored for the demo personas, ${stored.usd} USD in all; ${dead.n} dead-lettered`);
    out(`  GET /costs/breakdown for ${spiker} today: ${spend.total_cost ?? JSON.stringify(spend).slice(0, 200)} USD`);
  } finally {
    await guard.close();
    await tracker.close();
    for (const role of roles.reverse()) await role.stop().catch(() => undefined);
    await ops.stop();
    await pool.end();
    await http.stop();
    await smtp.stop();
  }
  out('\n▶ done');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`demo failed: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
