/**
 * bench:http-ingest: cost events posted to POST /events (role `ingest`, its own process) in batches
 * by concurrent clients, stored by the storage role (another process) in Postgres.
 *
 *   events_per_s  events answered 202 per second of the posting phase (first request → last 202)
 *   p99_ms        request → 202 (which comes only after Kafka acknowledged every event of the batch)
 *   stored        rows in cost_events for the run (must equal events)
 *   rss_mb        peak RSS of the ingest process (run with the V8 flags of its Deployment)
 *
 * The storage role starts once posting is done and drains the topic (BENCH_STORAGE_DURING=1 runs it
 * from the start instead): on a 2-core machine the two processes would otherwise share the cores
 * that ingest is measured on, where in a cluster they are separate pods. bench:ingest measures storage.
 *
 * It also reports (on stderr) the CPU time the ingest process and this load generator spent while
 * posting, so a client that eats a core shows. BENCH_PROFILE_DIR writes a V8 CPU profile of the
 * ingest process there (node --cpu-prof).
 *
 * BENCH_EVENTS (200,000), BENCH_BATCH (500), BENCH_CLIENTS (4). Run under the shared bench lock:
 *   flock /tmp/finops-bench.lock npm run bench:http-ingest
 */
import { randomBytes, randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { Agent, request } from 'undici';
import { loadSchema } from '../src/avro/schemas';
import { AvroCodec } from '../src/avro/codec';
import { Overrides, setting, topics } from '../src/config';
import { createPool } from '../src/db/pool';
import { createKafka, ensureTopics, pipelineTopicSpecs } from '../src/kafka/client';
import { RESOURCES } from '../k8s/resources';
import { migratedDatabase } from '../testkit/bench-database';
import { freePort } from '../testkit/free-port';
import { spawnRoles } from '../testkit/role-process';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 200_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 500);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const STORAGE_DURING = process.env.BENCH_STORAGE_DURING === '1';
const PROFILE_DIR = process.env.BENCH_PROFILE_DIR;
const TOKEN = `bench-ingest-${randomBytes(8).toString('hex')}`;
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'o3-mini'];

const say = (msg: string) => process.stderr.write(`[bench:http-ingest] ${msg}\n`);

/** One batch body: a mix of LLM, Kubernetes and vector-DB events priced by the ingest role, and given amounts. */
function batchBody(b: number, operation: string): string {
  const events = [];
  for (let j = 0; j < BATCH; j++) {
    const i = b * BATCH + j;
    const common = { persona_id: `persona-${i % 200}`, post_id: `post-${i % 20_000}`, operation, service: 'bench' };
    switch (i % 4) {
      case 0:
        events.push({ ...common, cost_type: 'openai_api', llm_usage: { model: MODELS[i % MODELS.length], input_tokens: randomInt(0, 20_000), output_tokens: randomInt(0, 2000) } });
        break;
      case 1:
        events.push({ ...common, cost_type: 'kubernetes', compute_usage: { cpu_cores: '0.5', memory_gb: '1.25', duration_ms: randomInt(1, 60_000) } });
        break;
      case 2:
        events.push({ ...common, cost_type: 'vector_db', vector_db_usage: { operation: 'query', units: randomInt(1, 100) } });
        break;
      default:
        events.push({ ...common, cost_type: 'other', amount: `0.${String(randomInt(1, 1e6)).padStart(9, '0')}` });
    }
  }
  return JSON.stringify(events);
}

/** User + system CPU seconds of a process so far (from /proc; 0 where there is none). */
function processCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return 0;
  }
}

/** Busy and total CPU time of the whole machine so far, in clock ticks (from /proc/stat). */
function machineCpu(): { busy: number; total: number } {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    return { busy: total - ticks[3] - ticks[4], total }; // minus idle and iowait
  } catch {
    return { busy: 0, total: 0 };
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function main(): Promise<void> {
  const id = `bench${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  say(`preparing database and topics (${id})`);
  // post_costs is a view over cost_events (sql/090): emptied with it.
  const dbUrl = await migratedDatabase('finops_http_ingest_bench', ['cost_events', 'cost_event_ids', 'persona_daily_costs', 'dead_letters']);
  const overrides: Overrides = {
    DATABASE_URL: dbUrl,
    TOPIC_COST_EVENTS: `bench.${id}.cost-events`,
    TOPIC_POST_OUTCOMES: `bench.${id}.post-outcomes`,
    TOPIC_COST_ANOMALIES: `bench.${id}.cost-anomalies`,
    TOPIC_COST_CONTROLS: `bench.${id}.cost-controls`,
    TOPIC_DEAD_LETTER: `bench.${id}.dead-letter`,
    STORAGE_GROUP_ID: `bench.${id}.storage`,
  };
  const kafka = createKafka(overrides, 'bench');
  await ensureTopics(kafka, pipelineTopicSpecs(overrides), overrides);
  const codec = new AvroCodec(setting('SCHEMA_REGISTRY_URL', overrides), overrides);
  await codec.register(topics(overrides).costEvents, loadSchema('cost-event'));
  await codec.register(topics(overrides).postOutcomes, loadSchema('post-outcome'));

  const ingestPort = await freePort();
  const ingest = spawnRoles(['ingest'], { ...overrides, INGEST_PORT: ingestPort, INGEST_HOST: '127.0.0.1', API_INGEST_TOKENS: TOKEN, INGEST_REDIS_PREFIX: `bench:${id}:` }, {
    logFile: '/tmp/bench-http-ingest.log',
    heapMb: RESOURCES.ingest.heapMb,
    nodeArgs: PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : [],
  });
  const startStorage = () => spawnRoles(['storage'], overrides, { logFile: '/tmp/bench-http-ingest-storage.log', heapMb: RESOURCES.storage.heapMb });
  let storage = STORAGE_DURING ? startStorage() : undefined;
  let peakRss = 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, ingest.rssMb())), 100);
  const pool = createPool({ DATABASE_URL: dbUrl });
  const agent = new Agent({ connections: CLIENTS, keepAliveTimeout: 30_000 });
  try {
    await Promise.all([ingest.running, storage?.running]);
    const batches = Math.ceil(EVENTS / BATCH);
    const operation = `http-${id}`;
    say(`building ${batches} bodies of ${BATCH} events`);
    const bodies = Array.from({ length: batches }, (_, b) => batchBody(b, operation));
    const url = `http://127.0.0.1:${ingestPort}/events`;
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` };
    const post = async (body: string) => {
      const res = await request(url, { method: 'POST', headers, body, dispatcher: agent });
      const text = await res.body.text();
      if (res.statusCode !== 202) throw new Error(`POST /events answered ${res.statusCode}: ${text.slice(0, 300)}`);
      return (JSON.parse(text) as { event_ids: string[] }).event_ids.length;
    };
    // Warm-up (JIT, connections, producer metadata), not counted: a separate operation tag.
    for (let w = 0; w < 4; w++) await post(batchBody(batches + w, `warmup-${id}`));

    say(`posting ${batches * BATCH} events in batches of ${BATCH} from ${CLIENTS} clients`);
    const latencies: number[] = [];
    let next = 0;
    let accepted = 0;
    const started = process.hrtime.bigint();
    const clientCpu0 = process.cpuUsage();
    const ingestCpu0 = processCpuSeconds(ingest.pid);
    const machine0 = machineCpu();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < bodies.length) {
          const body = bodies[next++];
          const t0 = process.hrtime.bigint();
          const n = await post(body);
          accepted += n;
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        }
      }),
    );
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const clientCpu = process.cpuUsage(clientCpu0);
    const ingestCpu = processCpuSeconds(ingest.pid) - ingestCpu0;
    const machine1 = machineCpu();
    const cores = cpus().length;
    say(`CPU while posting: ingest ${(ingestCpu / seconds * 100).toFixed(0)} % of a core (${(ingestCpu * 1e6 / (batches * BATCH)).toFixed(1)} µs/event), ` +
      `load generator ${((clientCpu.user + clientCpu.system) / 1e4 / seconds).toFixed(0)} % of a core; ` +
      `the machine ${(((machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total)) * cores * 100).toFixed(0)} % of ${cores} cores (Kafka and everything else included)`);
    const rssAtEnd = ingest.rssMb();
    say(`posted in ${seconds.toFixed(1)} s; waiting for storage`);
    storage ??= startStorage();
    const count = async () => Number((await pool.query('SELECT count(*) AS n FROM cost_events WHERE operation = $1', [operation])).rows[0].n);
    let stored = 0;
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      stored = await count();
      if (stored >= accepted) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await new Promise((r) => setTimeout(r, 2000)); // anything beyond `accepted` (a double) would show up now
    stored = await count();
    latencies.sort((a, b) => a - b);
    say(`p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies[latencies.length - 1].toFixed(1)} ms; ingest RSS at end ${rssAtEnd.toFixed(1)} MB`);
    const result = {
      events: accepted,
      stored,
      events_per_s: Math.round(accepted / seconds),
      p99_ms: Number(percentile(latencies, 99).toFixed(1)),
      rss_mb: Number(peakRss.toFixed(1)),
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    clearInterval(rssTimer);
    await agent.close().catch(() => undefined);
    await Promise.all([ingest.kill('SIGTERM'), storage?.kill('SIGTERM')]);
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: Object.entries(overrides).filter(([k]) => k.startsWith('TOPIC_')).map(([, v]) => String(v)) }).catch(() => undefined);
    await admin.disconnect();
    for (const t of [topics(overrides).costEvents, topics(overrides).postOutcomes]) {
      await fetch(`${setting('SCHEMA_REGISTRY_URL')}/subjects/${encodeURIComponent(`${t}-value`)}`, { method: 'DELETE' }).catch(() => undefined);
    }
    await pool.end();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`[bench:http-ingest] failed: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
