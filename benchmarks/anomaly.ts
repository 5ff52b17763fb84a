/**
 * Anomaly detection benchmark: 1,000 personas, 100,000 posts in flight, on the real local stack.
 *
 * 1. Publishes a backlog of six 10-second windows of baseline traffic per persona (event times in
 *    the recent past), then starts the anomaly role as a CHILD PROCESS, compiled as in the image
 *    (`tsc -p tsconfig.build.json`, `node dist/app/cli.js run anomaly`) with the Node flags of its
 *    Deployment (k8s/resources.ts), and measures how fast it drains the backlog (events_per_s)
 *    from its own /metrics.
 * 2. Live phase: steady background traffic at ~5,000 events/s plus K injected spikes (bursts of
 *    ~10× a persona's baseline); detection latency = anomaly received on the anomalies topic −
 *    Kafka timestamp of the event that crossed the threshold (trigger_published_at).
 * 3. rss_mb is the child's peak resident set over the whole run (VmHWM from /proc), i.e. the
 *    consumer's own memory.
 * Seasonal baselines are on (the default), and unless BENCH_ANOMALY_SCOPED=off every event is
 * also checked against three scoped budgets: its persona's, its team's (10 teams of 100 personas
 * through persona_teams) and a global one, each with four thresholds and a burn-rate forecast
 * (limits far above the traffic, so none fires). It migrates its own database (BENCH_ANOMALY_DATABASE,
 * default finops_anomaly_bench) on the server of DATABASE_URL.
 * The last line printed is one JSON object.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { compileForRoleProcesses } from '../testkit/role-process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { CompressionTypes, Message, Partitioners } from 'kafkajs';
import { AvroCodec, avroType } from '../src/avro/codec';
import { loadSchema } from '../src/avro/schemas';
import { setting, topics } from '../src/config';
import { CostEvent } from '../src/events';
import { createKafka, ensureTopics, pipelineTopicSpecs } from '../src/kafka/client';
import { usdToNano } from '../src/money';
import { sleep } from '../src/retry';
import { createPool } from '../src/db/pool';
import { AnomalyRecord } from '../consumers/anomaly/types';
import { nodeOptions } from '../k8s/resources';
import { runNames } from '../testkit/run-names';
import { migratedDatabase } from '../testkit/bench-database';

const PERSONAS = Number(process.env.BENCH_ANOMALY_PERSONAS ?? 1000);
const POSTS_PER_PERSONA = 100;
const WINDOW_MS = 10_000;
const HISTORY_WINDOWS = 6;
const EVENTS_PER_WINDOW = 100;
const LIVE_SECONDS = Number(process.env.BENCH_ANOMALY_LIVE_SECONDS ?? 20);
const LIVE_RATE = 5000;
const SPIKES = 30;
/** The benchmark's database (its migrations are this checkout's). */
const BENCH_DATABASE = process.env.BENCH_ANOMALY_DATABASE ?? 'finops_anomaly_bench';

const say = (msg: string) => process.stderr.write(`[bench:anomaly] ${msg}\n`);

async function main(): Promise<void> {
  if (process.env.BENCH_ANOMALY_TSX !== '1') {
    say('compiling (tsc -p tsconfig.build.json)');
    compileForRoleProcesses();
  }

  const id = `b${Date.now().toString(36)}`;
  // Its own migrated database: the budgets and teams it seeds need the schema, and a fresh stack has none.
  const overrides = { ...runNames('bench', id), DATABASE_URL: await migratedDatabase(BENCH_DATABASE) };
  const t = topics(overrides);
  const kafka = createKafka(overrides, 'bench');
  await ensureTopics(kafka, pipelineTopicSpecs(overrides), overrides);
  const codec = new AvroCodec(setting('SCHEMA_REGISTRY_URL'));
  const costSchemaId = await codec.register(t.costEvents, loadSchema('cost-event'));
  await codec.register(t.postOutcomes, loadSchema('post-outcome'));
  await codec.register(t.costAnomalies, loadSchema('cost-anomaly'));
  const costType = avroType(loadSchema('cost-event'));
  const producer = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();

  const persona = (i: number) => `${id}-persona-${i}`;
  const encode = (personaIdx: number, time: number, nano: bigint, post: string | null): Message => {
    const e: CostEvent = {
      event_id: randomUUID(), event_time: new Date(time), cost_type: 'openai_api', amount: nano, currency: 'USD', persona_id: persona(personaIdx), post_id: post,
      operation: 'bench', service: null, correlation_id: null, request_id: null, llm_usage: null, compute_usage: null, vector_db_usage: null,
      price: { source: 'bench', version: '1', status: 'priced', unit_prices: {} }, metadata: {},
    };
    return { key: e.persona_id, value: AvroCodec.encode(costSchemaId, costType, e) };
  };
  const send = (messages: Message[]) => producer.sendBatch({ topicMessages: [{ topic: t.costEvents, messages }], acks: -1, compression: CompressionTypes.None });

  const scoped = process.env.BENCH_ANOMALY_SCOPED !== 'off';
  const pool = createPool(overrides, 'bench-anomaly');
  const cleanupScoped = async () => {
    await pool.query("DELETE FROM scoped_budgets WHERE scope_value LIKE $1 OR (scope_kind = 'global' AND limit_usd = 10000000000)", [`${id}-%`]).catch(() => undefined);
    await pool.query('DELETE FROM persona_teams WHERE persona_id LIKE $1', [`${id}-%`]).catch(() => undefined);
    await pool.end();
  };
  if (scoped) {
    const thresholds = JSON.stringify([{ percent: '50', severity: 'low' }, { percent: '80', severity: 'medium' }, { percent: '90', severity: 'high', control: 'throttle' }, { percent: '100', severity: 'critical', control: 'pause' }]);
    const personas = Array.from({ length: PERSONAS }, (_, i) => persona(i));
    await pool.query('INSERT INTO persona_teams (persona_id, team) SELECT p, $2 || \'-team-\' || (ord % 10) FROM unnest($1::text[]) WITH ORDINALITY AS u(p, ord)', [personas, id]);
    await pool.query("INSERT INTO scoped_budgets (scope_kind, scope_value, period, limit_usd, thresholds) SELECT 'persona', p, 'daily', 1000000, $2::jsonb FROM unnest($1::text[]) p", [personas, thresholds]);
    await pool.query("INSERT INTO scoped_budgets (scope_kind, scope_value, period, limit_usd, thresholds) SELECT 'team', $1 || '-team-' || g, 'daily', 100000000, $2::jsonb FROM generate_series(0, 9) g", [id, thresholds]);
    await pool.query("INSERT INTO scoped_budgets (scope_kind, scope_value, period, limit_usd, thresholds) VALUES ('global', '', 'daily', 10000000000, $1::jsonb) ON CONFLICT DO NOTHING", [thresholds]);
    say(`scoped budgets: ${PERSONAS} persona, 10 team, 1 global (each event checked against 3)`);
  }

  // ── 1. backlog ─────────────────────────────────────────────────────────────────────────────
  const B = Math.floor((Date.now() - (HISTORY_WINDOWS + 2) * WINDOW_MS) / WINDOW_MS) * WINDOW_MS;
  let published = 0;
  let seed = 42;
  // xorshift32: deterministic and uniform (a float LCG loses precision and cycles).
  const rand = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  say(`publishing ${PERSONAS * HISTORY_WINDOWS * EVENTS_PER_WINDOW} baseline events`);
  for (let h = 0; h < HISTORY_WINDOWS; h++) {
    for (let k = 0; k < EVENTS_PER_WINDOW; k++) {
      const batch: Message[] = [];
      const time = B + h * WINDOW_MS + Math.floor((k * WINDOW_MS) / EVENTS_PER_WINDOW);
      for (let i = 0; i < PERSONAS; i++) {
        const nano = 1_400_000n + BigInt(Math.floor(rand() * 1_200_000)); // $0.0014–0.0026, ~$0.2 per window
        batch.push(encode(i, time, nano, `${persona(i)}-post-${k % POSTS_PER_PERSONA}`));
      }
      await send(batch);
      published += batch.length;
    }
  }
  const backlog = published;
  say(`backlog of ${backlog} events published`);

  // ── 2. the consumer, as a child process ─────────────────────────────────────────────────────
  const port = 20000 + Math.floor(Math.random() * 10000);
  const root = path.resolve(__dirname, '..');
  const env: NodeJS.ProcessEnv = {
    ...process.env, ...overrides, METRICS_PORT: String(port), LOG_LEVEL: 'warn',
    NODE_OPTIONS: nodeOptions('anomaly'),
    ANOMALY_WINDOW_MS: String(WINDOW_MS), ANOMALY_ALLOWED_LATENESS_MS: '1000', ANOMALY_MIN_BASELINE_WINDOWS: '5',
  };
  // As in the image: compiled JavaScript (tsx would add its loader thread and in-memory compilation
  // to the consumer's CPU and RSS). BENCH_ANOMALY_TSX=1 runs the sources instead.
  const entry = process.env.BENCH_ANOMALY_TSX === '1' ? ['--import', 'tsx', path.join(root, 'app/cli.ts')] : [path.join(root, 'dist/app/cli.js')];
  // e.g. BENCH_ANOMALY_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the consumer.
  const nodeArgs = (process.env.BENCH_ANOMALY_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, ...entry, 'run', '--setup', 'anomaly'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const currentRssMb = () => {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    } catch {
      return 0;
    }
  };
  // Debugging aid (BENCH_ANOMALY_SMAPS=1): the child's resident memory by mapping at the highest RSS.
  let peakMaps = '';
  const residentByMapping = () => {
    try {
      const sums = new Map<string, number>();
      let name = '';
      for (const line of fs.readFileSync(`/proc/${child.pid}/smaps`, 'utf8').split('\n')) {
        const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
        if (head) name = head[1] || '[anon]';
        const rss = /^Rss:\s+(\d+) kB/.exec(line);
        if (rss) sums.set(name, (sums.get(name) ?? 0) + Number(rss[1]));
      }
      return [...sums].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([n, kb]) => `${path.basename(n)} ${(kb / 1024).toFixed(1)} MB`).join(', ');
    } catch {
      return '';
    }
  };
  const peakRssMb = () => {
    try {
      return Number(/VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
    } catch {
      return 0;
    }
  };
  const scrape = async (): Promise<{ processed: number; posts: number; personas: number; heapMb: number; heapTotalMb: number; externalMb: number }> => {
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
      return {
        processed: num(/finops_anomaly_events_total\{input="cost",outcome="processed"\} (\d+)/),
        posts: num(/finops_anomaly_state_entries\{kind="posts"\} (\d+)/),
        personas: num(/finops_anomaly_state_entries\{kind="personas"\} (\d+)/),
        heapMb: num(/^nodejs_heap_size_used_bytes (\S+)/m) / 1048576,
        heapTotalMb: num(/^nodejs_heap_size_total_bytes (\S+)/m) / 1048576,
        externalMb: num(/^nodejs_external_memory_bytes (\S+)/m) / 1048576,
      };
    } catch {
      return { processed: 0, posts: 0, personas: 0, heapMb: 0, heapTotalMb: 0, externalMb: 0 };
    }
  };

  // Anomaly reader, started before the consumer so nothing is missed.
  const anomalyType = avroType(loadSchema('cost-anomaly'));
  const received: { r: AnomalyRecord; at: number }[] = [];
  const reader = kafka.consumer({ groupId: `bench.${id}.reader`, maxWaitTimeInMs: 20 });
  await reader.connect();
  await reader.subscribe({ topics: [t.costAnomalies], fromBeginning: true });
  await reader.run({ eachMessage: async ({ message }) => void received.push({ r: (await codec.decode<AnomalyRecord>(message.value, anomalyType)).value, at: Date.now() }) });

  let first = 0;
  let firstProcessed = 0;
  let done = 0;
  // The V8 heap and external memory at the highest resident set sampled, to tell where RSS goes.
  let peak = { rssMb: 0, heapMb: 0, heapTotalMb: 0, externalMb: 0 };
  const sample = (m: { heapMb: number; heapTotalMb: number; externalMb: number }) => {
    const rss = currentRssMb();
    if (rss > peak.rssMb) {
      peak = { rssMb: rss, heapMb: m.heapMb, heapTotalMb: m.heapTotalMb, externalMb: m.externalMb };
      if (process.env.BENCH_ANOMALY_SMAPS === '1') peakMaps = residentByMapping();
    }
  };
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const m = await scrape();
    sample(m);
    if (!first && m.processed > 0) {
      first = Date.now();
      firstProcessed = m.processed;
    }
    if (m.processed >= backlog) {
      done = Date.now();
      break;
    }
    await sleep(100);
  }
  if (!done) throw new Error('the consumer did not drain the backlog in 120 s');
  // The rate between the first scrape that saw events processed and the one that saw them all
  // (scrapes 100 ms apart); what was processed before the first scrape is not counted.
  const eventsPerS = (backlog - firstProcessed) / ((done - first) / 1000);
  say(`backlog drained: ${backlog - firstProcessed} events in ${((done - first) / 1000).toFixed(1)} s after the first ${firstProcessed}`);

  // ── 3. live traffic with injected spikes ────────────────────────────────────────────────────
  const spiked = new Set<string>();
  const spikeEvery = Math.floor((LIVE_SECONDS * 1000) / (SPIKES + 2));
  const liveStart = Date.now();
  let nextSpike = liveStart + spikeEvery;
  let spikeIdx = 0;
  while (Date.now() - liveStart < LIVE_SECONDS * 1000) {
    const tick = Date.now();
    const batch: Message[] = [];
    for (let j = 0; j < LIVE_RATE / 10; j++) {
      const i = Math.floor(rand() * PERSONAS);
      batch.push(encode(i, Date.now(), 500_000n, `${persona(i)}-post-${Math.floor(rand() * POSTS_PER_PERSONA)}`));
    }
    const now = Date.now();
    const windowLeft = WINDOW_MS - (now % WINDOW_MS);
    if (spikeIdx < SPIKES && now >= nextSpike && windowLeft > 1500) {
      const victim = (7 + spikeIdx * 31) % PERSONAS; // distinct personas
      spiked.add(persona(victim));
      for (let k = 0; k < 40; k++) batch.push(encode(victim, now, usdToNano('0.05'), null)); // $2 ≈ 10× baseline
      spikeIdx++;
      nextSpike += spikeEvery;
    }
    await send(batch);
    published += batch.length;
    if (Math.floor(tick / 1000) !== Math.floor(Date.now() / 1000)) sample(await scrape());
    await sleep(Math.max(0, 100 - (Date.now() - tick)));
  }
  const liveEnd = Date.now();
  await waitUntil(() => new Set(received.filter((x) => x.r.status === 'open' && spiked.has(x.r.persona_id)).map((x) => x.r.persona_id)).size >= spiked.size, 10_000);
  await sleep(1500); // a late false positive would show up here
  const state = await scrape();
  const rssMb = peakRssMb();

  const opens = received.filter((x) => x.r.status === 'open');
  const hits = opens.filter((x) => spiked.has(x.r.persona_id) && x.r.anomaly_type === 'cost_spike');
  const detected = new Set(hits.map((x) => x.r.persona_id)).size;
  const falsePositives = opens.length - detected;
  const latencies = hits.map((x) => x.at - (x.r.trigger_published_at?.getTime() ?? x.at)).sort((a, b) => a - b);
  const pct = (q: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] : null);
  say(`live: ${published - backlog} events in ${((liveEnd - liveStart) / 1000).toFixed(1)} s; state: ${state.personas} personas, ${state.posts} posts, V8 heap used ${state.heapMb.toFixed(0)} MB of ${state.heapTotalMb.toFixed(0)} MB, external ${state.externalMb.toFixed(0)} MB; anomaly states received: ${received.length}`);
  say(`highest RSS sampled ${peak.rssMb.toFixed(0)} MB: V8 heap used ${peak.heapMb.toFixed(0)} MB of ${peak.heapTotalMb.toFixed(0)} MB, external ${peak.externalMb.toFixed(0)} MB${peakMaps ? `; by mapping: ${peakMaps}` : ''}`);
  for (const x of opens.filter((o) => !hits.includes(o)).slice(0, 5)) say(`unexpected: ${x.r.persona_id} ${x.r.anomaly_type} ${x.r.severity} ${x.r.message}`);

  if (process.env.BENCH_ANOMALY_HEAPSNAPSHOT === '1') {
    // Debugging aid: the child writes Heap.*.heapsnapshot into the working directory (--heapsnapshot-signal=SIGUSR2 in BENCH_ANOMALY_NODE_ARGS).
    child.kill('SIGUSR2');
    await sleep(15_000);
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await reader.disconnect();
  await producer.disconnect();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: Object.values(t) }).catch(() => undefined);
  await admin.disconnect();
  await cleanupScoped();

  process.stdout.write(
    `${JSON.stringify({
      events: published,
      events_per_s: Math.round(eventsPerS),
      injected: spiked.size,
      detected,
      false_positives: falsePositives,
      detection_p50_ms: pct(0.5),
      detection_p99_ms: pct(0.99),
      rss_mb: Math.round(rssMb),
      seasonal: process.env.ANOMALY_SEASONAL ?? 'on',
      scoped_budgets: scoped ? 'on' : 'off',
    })}\n`,
  );
}

async function waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check() && Date.now() < end) await sleep(50);
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`bench failed: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
