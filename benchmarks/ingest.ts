/**
 * Ingest benchmark: SDK → Kafka → storage consumer (a separate process) → Postgres.
 *
 *  1. Latency: a steady BENCH_RATE events/s for BENCH_STEADY_SECONDS; per row, publish time (the
 *     event time the SDK stamps) → ingested_at (clock time of the storing statement, which commits
 *     right after it).
 *  2. Throughput: publish BENCH_EVENTS events through the SDK as fast as it accepts them; time from
 *     the first publish to the last row committed.
 *  3. Drain: BENCH_DRAIN_EVENTS (default BENCH_EVENTS) events published through the SDK to a fresh
 *     topic while no consumer runs (the SDK's CPU per event is measured over this publish), then a
 *     storage consumer alone (a new process and group) drains it: rows over the time from the first
 *     stored row to the last, as the peer is measured (the rate from the process's start is printed
 *     too). The ledger tables are emptied first, so the drain and the ceiling start alike.
 *  4. COPY ceiling: the drained rows, read back into memory, COPYed straight into the same
 *     (emptied) table: the physical limit of the sink on this machine.
 *
 *  5. Peer: Debezium's JDBC sink connector in Kafka Connect standalone (benchmarks/peer/) drains
 *     the same full topic into a plain table on the same Postgres; `vs_peer` = our drain / its drain.
 *     BENCH_PEER=0 skips it.
 *
 * Every storage consumer is a separate process running the compiled build (dist/app/cli.js), as the
 * image runs it; BENCH_TSX=1 runs the sources under tsx instead.
 *
 * The last line printed is one JSON object with the figures.
 */
import { randomBytes } from 'node:crypto';
import { to as copyTo, from as copyFrom } from 'pg-copy-streams';
import { once } from 'node:events';
import { finished, pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { CostTracker } from '../producers';
import { Overrides, setting } from '../src/config';
import { createPool } from '../src/db/pool';
import { createKafka, ensureTopics, pipelineTopicSpecs } from '../src/kafka/client';
import { COST_EVENT_COLUMNS } from '../consumers/storage/copy-rows';
import { compileForRoleProcesses, spawnRoles } from '../testkit/role-process';
import { measureDebeziumPeer } from './peer/debezium-jdbc';
import { trackMixedCost } from './ingest-mix';
import { runNames } from '../testkit/run-names';
import { migratedDatabase } from '../testkit/bench-database';
import { runtimeEnv } from '../k8s/resources';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const DRAIN_EVENTS = Number(process.env.BENCH_DRAIN_EVENTS ?? EVENTS);
const RATE = Number(process.env.BENCH_RATE ?? 2000);
const STEADY_SECONDS = Number(process.env.BENCH_STEADY_SECONDS ?? 20);
const IN_FLIGHT = 20_000;
/** BENCH_PEER=0 skips the Debezium JDBC sink peer (benchmarks/peer/). */
const PEER = process.env.BENCH_PEER !== '0';
const TSX = process.env.BENCH_TSX === '1';
/** The consumer runs with its Deployment's NODE_OPTIONS and MALLOC_ARENA_MAX (k8s/resources.ts); BENCH_CONSUMER_HEAP_MB sets another V8 heap cap. */
const CONSUMER_ENV = runtimeEnv('storage');
const CONSUMER_HEAP_MB = process.env.BENCH_CONSUMER_HEAP_MB ? Number(process.env.BENCH_CONSUMER_HEAP_MB) : undefined;
/** Extra Node arguments of the draining consumer, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" (Node refuses --cpu-prof in NODE_OPTIONS). */
const DRAIN_NODE_ARGS = (process.env.BENCH_DRAIN_NODE_ARGS ?? '').split(' ').filter(Boolean);
/** The benchmark's database (its migrations are this checkout's). */
const BENCH_DATABASE = process.env.BENCH_INGEST_DATABASE ?? 'finops_ingest_bench';

/**
 * How often the bench reads the consumer's /metrics for progress while it is measured. A scrape
 * renders every series (per persona: ~30,000 lines here) and cost the consumer a sixth of its CPU
 * at 10 a second; end times come from the rows' own ingested_at, so this only delays noticing.
 */
const PROGRESS_POLL_MS = 1000;

const say = (msg: string) => process.stderr.write(`[bench:ingest] ${msg}\n`);

const LEDGER_TABLES = ['cost_events', 'cost_event_ids', 'persona_daily_costs', 'dead_letters']; // post_costs is a view (sql/090)
const EMPTY_LEDGER = `TRUNCATE ${LEDGER_TABLES.join(', ')}`;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Publishes `events` through the SDK as fast as it accepts them, at most IN_FLIGHT unresolved. */
async function publish(tracker: CostTracker, events: number, operation: string): Promise<{ acked: number; failed: number }> {
  let acked = 0;
  let failed = 0;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  for (let i = 0; i < events; i++) {
    if (inFlight >= IN_FLIGHT) await new Promise<void>((r) => (wake = r));
    inFlight++;
    trackMixedCost(tracker, i, operation).then(
      () => acked++,
      () => failed++,
    ).finally(() => {
      inFlight--;
      if (wake && inFlight < IN_FLIGHT / 2) {
        const w = wake;
        wake = undefined;
        w();
      }
    });
  }
  await tracker.flush(); // every call above, acknowledged
  return { acked, failed };
}

async function main(): Promise<void> {
  const id = `bench${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  // The consumers run compiled, as in the image. BENCH_TSX=1 runs the sources under tsx instead.
  if (!TSX) {
    say('compiling (tsc -p tsconfig.build.json)');
    compileForRoleProcesses();
  }
  say(`preparing database and topics (${id})`);
  const dbUrl = await migratedDatabase(BENCH_DATABASE, LEDGER_TABLES);
  const overrides: Overrides = {
    ...runNames('bench', id),
    DATABASE_URL: dbUrl,
  };
  const kafka = createKafka(overrides, 'bench');
  await ensureTopics(kafka, pipelineTopicSpecs(overrides), overrides);

  const tracker = new CostTracker({ overrides });
  await tracker.start();
  const consumer = spawnRoles(['storage'], overrides, { logFile: '/tmp/bench-ingest-consumer.log', env: CONSUMER_ENV, heapMb: CONSUMER_HEAP_MB, compiled: !TSX });
  await consumer.running;
  let peakRss = 0;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, consumer.rssMb())), 250);

  const pool = createPool({ DATABASE_URL: dbUrl });
  // Progress comes from the consumer's own counter of inserted rows: polling count(*) on the
  // table would itself load Postgres while it is being measured.
  const metricsPort = await consumer.running;
  const storedSoFar = async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics?name=finops_storage_events_total`)).text();
    return Number(/finops_storage_events_total\{outcome="stored"\} (\d+)/.exec(text)?.[1] ?? 0);
  };
  try {
    // 1. Latency at a steady rate, on a warm consumer and before the bulk load below (whose
    //    aftermath — autovacuum and checkpoints of a million fresh rows — is not steady state).
    const WARM_UP = 2000;
    await Promise.all(Array.from({ length: WARM_UP }, (_, i) => trackMixedCost(tracker, i, 'warm-up')));
    while ((await storedSoFar()) < WARM_UP) await new Promise((r) => setTimeout(r, 100));
    const steadyEvents = RATE * STEADY_SECONDS;
    say(`latency: ${RATE} events/s for ${STEADY_SECONDS} s`);
    const start = Date.now();
    const steady: Promise<unknown>[] = [];
    for (let i = 0; i < steadyEvents; i++) {
      const due = start + (i * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      steady.push(trackMixedCost(tracker, i, 'latency'));
    }
    await Promise.all(steady);
    while ((await storedSoFar()) < WARM_UP + steadyEvents) await new Promise((r) => setTimeout(r, 200));
    const { rows: lat } = await pool.query(
      "SELECT extract(epoch FROM (ingested_at - event_time)) * 1000 AS ms FROM cost_events WHERE operation = 'latency' ORDER BY 1",
    );
    const latencies = lat.map((r) => Number(r.ms));
    const p50 = percentile(latencies, 50);
    const p99 = percentile(latencies, 99);
    say(`latency: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms over ${latencies.length} events`);

    // 2. Throughput
    say(`throughput: publishing ${EVENTS} events through the SDK`);
    const t0 = Date.now();
    const { acked, failed } = await publish(tracker, EVENTS, 'throughput');
    await tracker.flush(); // every call above, acknowledged
    const published = Date.now();
    say(`published ${acked} (failed ${failed}) in ${((published - t0) / 1000).toFixed(1)} s; waiting for storage`);
    while ((await storedSoFar()) < WARM_UP + steadyEvents + acked) {
      if (Date.now() - published > 600_000) throw new Error(`only ${await storedSoFar()} of ${acked} stored after 10 minutes`);
      await new Promise((r) => setTimeout(r, PROGRESS_POLL_MS));
    }
    // The last row's commit time, from the rows themselves (ingested_at is the storing statement's clock).
    const { rows: tp } = await pool.query("SELECT count(*)::bigint AS n, (extract(epoch FROM max(ingested_at)) * 1000)::float8 AS last_ms FROM cost_events WHERE operation = 'throughput'");
    const t1 = Number(tp[0].last_ms);
    const stored = Number(tp[0].n);
    const eventsPerS = EVENTS / ((t1 - t0) / 1000);
    say(`throughput: ${stored} stored in ${((t1 - t0) / 1000).toFixed(1)} s → ${Math.round(eventsPerS)} events/s; consumer peak RSS ${peakRss.toFixed(0)} MiB`);

    const { rows: check } = await pool.query(
      `SELECT (SELECT count(*) FROM cost_events)::bigint AS stored,
              (SELECT count(*) - count(DISTINCT event_id) FROM cost_events)::bigint AS duplicate_rows,
              (SELECT coalesce(sum(event_count), 0) FROM persona_daily_costs)::bigint AS rollup_events,
              (SELECT count(*) FROM dead_letters)::bigint AS dead`,
    );
    const storedTotal = Number(check[0].stored);
    const duplicates = Number(check[0].duplicate_rows) + Math.max(0, Number(check[0].rollup_events) - storedTotal);
    await consumer.kill('SIGTERM');

    // 3. Drain: fill a fresh topic with no consumer running, then start one and time it.
    const drainOverrides: Overrides = { ...overrides, TOPIC_COST_EVENTS: `bench.${id}.drain`, STORAGE_GROUP_ID: `bench.${id}.drain-storage` };
    await ensureTopics(kafka, pipelineTopicSpecs(drainOverrides), drainOverrides);
    await pool.query(EMPTY_LEDGER);
    const filler = new CostTracker({ overrides: drainOverrides });
    await filler.start();
    say(`drain: filling a fresh topic with ${DRAIN_EVENTS} events (no consumer running)`);
    const cpu0 = process.cpuUsage();
    const f0 = Date.now();
    const filled = await publish(filler, DRAIN_EVENTS, 'drain');
    const cpu = process.cpuUsage(cpu0);
    const sdkCpuUsPerEvent = (cpu.user + cpu.system) / DRAIN_EVENTS;
    await filler.close();
    say(`drain: ${filled.acked} published (failed ${filled.failed}) in ${((Date.now() - f0) / 1000).toFixed(1)} s, SDK CPU ${sdkCpuUsPerEvent.toFixed(1)} µs/event`);
    const drainer = spawnRoles(['storage'], drainOverrides, { logFile: '/tmp/bench-ingest-consumer.log', env: CONSUMER_ENV, heapMb: CONSUMER_HEAP_MB, nodeArgs: DRAIN_NODE_ARGS, compiled: !TSX });
    const drainPort = await drainer.running;
    const d0 = Date.now();
    const drainCpu0 = drainer.cpuSeconds();
    const drainRss = setInterval(() => (peakRss = Math.max(peakRss, drainer.rssMb())), 250);
    const drainStored = async () => {
      const text = await (await fetch(`http://127.0.0.1:${drainPort}/metrics?name=finops_storage_events_total`)).text();
      return Number(/finops_storage_events_total\{outcome="stored"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    while ((await drainStored()) < filled.acked) {
      if (Date.now() - d0 > 600_000) throw new Error(`drain: only ${await drainStored()} of ${filled.acked} stored after 10 minutes`);
      await new Promise((r) => setTimeout(r, PROGRESS_POLL_MS));
    }
    clearInterval(drainRss);
    clearInterval(rssTimer);
    // The last row's commit time, from the rows themselves (ingested_at is the storing statement's clock).
    const { rows: dr } = await pool.query(
      `SELECT count(*)::bigint AS stored, (count(*) - count(DISTINCT event_id))::bigint AS duplicate_rows,
              (extract(epoch FROM max(ingested_at)) * 1000)::float8 AS last_ms,
              (extract(epoch FROM min(ingested_at)) * 1000)::float8 AS first_ms,
              (SELECT coalesce(sum(event_count), 0) FROM persona_daily_costs)::bigint AS rollup_events
       FROM cost_events WHERE operation = 'drain'`,
    );
    const drainCpuSeconds = drainer.cpuSeconds() - drainCpu0;
    const drainedRows = Number(dr[0].stored);
    // Measured as the peer's is (benchmarks/peer/): rows over the time from the first stored row to the
    // last, so neither side's start-up (module load, group join, the JVM) counts.
    const drainSeconds = (Number(dr[0].last_ms) - Number(dr[0].first_ms)) / 1000;
    const drainPerS = drainedRows / drainSeconds;
    const startToLastPerS = drainedRows / ((Number(dr[0].last_ms) - d0) / 1000);
    const drainDuplicates = Number(dr[0].duplicate_rows) + Math.max(0, Number(dr[0].rollup_events) - drainedRows);
    const drainCpuUsPerEvent = (drainCpuSeconds * 1e6) / drainedRows;
    say(`drain: ${drainedRows} stored, first to last row ${drainSeconds.toFixed(1)} s → ${Math.round(drainPerS)} events/s (from the consumer's start ${Math.round(startToLastPerS)} events/s); consumer CPU ${drainCpuUsPerEvent.toFixed(1)} µs/event; peak RSS ${peakRss.toFixed(0)} MiB`);
    await drainer.kill('SIGTERM');

    // 4. COPY ceiling: the same rows, from memory, straight into the same (emptied) table.
    say('copy ceiling: reading the drained rows into memory');
    const columns = COST_EVENT_COLUMNS.join(', ');
    const client = await pool.connect();
    const chunks: Buffer[] = [];
    await pipeline(
      client.query(copyTo(`COPY (SELECT ${columns} FROM cost_events WHERE operation = 'drain') TO STDOUT`)),
      new Writable({ write(chunk, _enc, cb) { chunks.push(chunk); cb(); } }),
    );
    await client.query(EMPTY_LEDGER);
    const c0 = Date.now();
    const copy = client.query(copyFrom(`COPY cost_events (${columns}) FROM STDIN`));
    for (const chunk of chunks) if (!copy.write(chunk)) await once(copy, 'drain');
    copy.end();
    await finished(copy);
    const copySeconds = (Date.now() - c0) / 1000;
    client.release();
    const ceiling = drainedRows / copySeconds;
    say(`copy ceiling: ${drainedRows} rows in ${copySeconds.toFixed(1)} s → ${Math.round(ceiling)} rows/s`);

    // 5. The peer: Debezium's JDBC sink (Kafka Connect standalone) drains the same full topic into a
    //    plain table on the same Postgres.
    let peer: Awaited<ReturnType<typeof measureDebeziumPeer>> | undefined;
    if (PEER) {
      say('peer: Debezium JDBC sink draining the same topic');
      peer = await measureDebeziumPeer({
        topic: drainOverrides.TOPIC_COST_EVENTS as string,
        events: filled.acked,
        databaseUrl: dbUrl,
        registryUrl: setting('SCHEMA_REGISTRY_URL', overrides),
        kafkaBrokers: setting('KAFKA_BROKERS', overrides),
        log: (msg) => say(`peer: ${msg}`),
      });
      say(`peer: ${peer.stored} stored, drain ${peer.drainEventsPerS} events/s (start to last row ${peer.startToLastRowEventsPerS} events/s)`);
    }

    const result = {
      events: EVENTS,
      stored,
      duplicates: duplicates + drainDuplicates,
      dead_lettered: Number(check[0].dead),
      events_per_s: Math.round(eventsPerS),
      copy_ceiling_events_per_s: Math.round(ceiling),
      ratio: Number((eventsPerS / ceiling).toFixed(3)),
      drain_events: DRAIN_EVENTS,
      drain_stored: drainedRows,
      drain_events_per_s: Math.round(drainPerS),
      drain_ratio: Number((drainPerS / ceiling).toFixed(3)),
      drain_start_to_last_row_events_per_s: Math.round(startToLastPerS),
      drain_consumer_cpu_us_per_event: Number(drainCpuUsPerEvent.toFixed(1)),
      sdk_cpu_us_per_event: Number(sdkCpuUsPerEvent.toFixed(1)),
      p50_ms: Number(p50.toFixed(1)),
      p99_ms: Number(p99.toFixed(1)),
      consumer_rss_mb: Number(peakRss.toFixed(1)),
      peer: peer ? peer.peer : null,
      peer_drain_events_per_s: peer ? Math.round(peer.drainEventsPerS) : null,
      peer_stored: peer ? peer.stored : null,
      vs_peer: peer ? Number((drainPerS / peer.drainEventsPerS).toFixed(2)) : null,
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    clearInterval(rssTimer);
    await consumer.kill('SIGKILL');
    await tracker.close();
    const admin = kafka.admin();
    await admin.connect();
    const benchTopics = [...Object.entries(overrides).filter(([k]) => k.startsWith('TOPIC_')).map(([, v]) => String(v)), `bench.${id}.drain`];
    await admin.deleteTopics({ topics: benchTopics }).catch(() => undefined);
    await admin.disconnect();
    await pool.end();
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(`[bench:ingest] failed: ${(err as Error).stack}\n`);
    process.exit(1);
  },
);
