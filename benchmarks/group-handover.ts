/**
 * The consumer-group session timeout trade-off, measured: for each KAFKA_SESSION_TIMEOUT_MS in
 * BENCH_SESSION_TIMEOUTS, two storage processes share one group while the SDK publishes as fast
 * as it can (full load on the box). Over BENCH_LOAD_SECONDS it counts the group's rebalances (a
 * live member evicted for a missed heartbeat is a false one), then SIGKILLs one member and times
 * how long until the group is stable again with the survivor holding every partition.
 *
 *   flock /tmp/finops-bench.lock npx tsx benchmarks/group-handover.ts
 *
 * Rebalances are read from the broker's coordinator log when FINOPS_STACK_DIR has it (with their
 * reasons), else counted from member-id changes seen by polling the group.
 * The last line printed is one JSON object with a row per session timeout.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { CostTracker } from '../producers';
import { Overrides } from '../src/config';
import { createKafka, ensureTopics, pipelineTopicSpecs } from '../src/kafka/client';
import { heartbeatIntervalFor } from '../src/kafka/options';
import { retry, sleep } from '../src/retry';
import { spawnRoles } from '../testkit/role-process';
import { runNames } from '../testkit/run-names';
import { migratedDatabase } from '../testkit/bench-database';

const TIMEOUTS = (process.env.BENCH_SESSION_TIMEOUTS ?? '6000,10000,30000').split(',').map(Number);
const LOAD_SECONDS = Number(process.env.BENCH_LOAD_SECONDS ?? 120);
const say = (msg: string) => process.stderr.write(`[bench:handover] ${msg}\n`);

function brokerLog(): string | undefined {
  const dir = process.env.FINOPS_STACK_DIR ?? path.resolve(__dirname, '../.stack');
  const file = path.join(dir, 'kafka/logs/server.log');
  return fs.existsSync(file) ? file : undefined;
}

/** Coordinator lines about `group` written to the broker log since `from` (bytes). */
function coordinatorLines(file: string, from: number, group: string): string[] {
  const size = fs.statSync(file).size;
  if (size < from) return []; // rolled over; the member-id count stands in
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(size - from);
  fs.readSync(fd, buf, 0, buf.length, from);
  fs.closeSync(fd);
  return buf.toString().split('\n').filter((l) => l.includes(`group ${group} `));
}

interface Row {
  session_timeout_ms: number;
  heartbeat_ms: number;
  load_s: number;
  published_per_s: number;
  rebalances_under_load: number;
  rebalance_reasons: string[];
  handover_ms: number;
}

async function measure(sessionTimeoutMs: number, dbUrl: string): Promise<Row> {
  const id = `ho${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const group = `bench.${id}.storage`;
  const overrides: Overrides = {
    ...runNames('bench', id),
    DATABASE_URL: dbUrl,
    STORAGE_GROUP_ID: group,
    KAFKA_SESSION_TIMEOUT_MS: String(sessionTimeoutMs),
  };
  const kafka = createKafka(overrides, 'bench');
  // A loaded broker may not host a new topic's partitions yet when asked at once: retried.
  await retry(() => ensureTopics(kafka, pipelineTopicSpecs(overrides), overrides), { retries: 5, initialDelayMs: 500 });
  const admin = kafka.admin();
  await admin.connect();
  const members = async () => (await admin.describeGroups([group])).groups[0];

  const procs = [0, 1].map((i) => spawnRoles(['storage'], overrides, { logFile: `/tmp/bench-handover-${i}.log`, heapMb: 256 }));
  await Promise.all(procs.map((p) => p.running));
  for (;;) {
    const g = await members();
    if (g.state === 'Stable' && g.members.length === 2) break;
    await sleep(200);
  }

  // Full load: the SDK publishes as fast as the box lets it, for the whole measurement.
  const tracker = new CostTracker({ overrides });
  await tracker.start();
  let published = 0;
  let publishing = true;
  const publisher = Promise.all([0, 1, 2, 3].map(async (lane) => {
    for (let i = 0; publishing; i++) {
      const batch: Promise<unknown>[] = [];
      for (let j = 0; j < 2000; j++) {
        const n = (i * 4 + lane) * 2000 + j;
        batch.push(tracker.trackVectorDbCost({ vectorOperation: 'query', units: 1 + (n % 9), personaId: `persona-${n % 500}`, postId: `post-${n % 20_000}`, operation: 'handover' }));
      }
      await Promise.all(batch);
      published += batch.length;
    }
  }));

  const log = brokerLog();
  const logStart = log ? fs.statSync(log).size : 0;
  const seenMembers = new Set((await members()).members.map((m) => m.memberId));
  let memberChanges = 0;
  const loadUntil = Date.now() + LOAD_SECONDS * 1000;
  while (Date.now() < loadUntil) {
    await sleep(500);
    for (const m of (await members()).members) {
      if (!seenMembers.has(m.memberId)) {
        seenMembers.add(m.memberId);
        memberChanges++;
      }
    }
  }
  const lines = log ? coordinatorLines(log, logStart, group).filter((l) => l.includes('Preparing to rebalance')) : [];
  const reasons = lines.map((l) => /reason: ([^;)]*)/.exec(l)?.[1]?.replace(/member \S+/, 'member …') ?? '?');
  const publishedPerS = Math.round(published / LOAD_SECONDS);

  // Handover: SIGKILL one member under the same load; stable again with one member holding all partitions.
  const killedAt = Date.now();
  await procs[1].kill('SIGKILL');
  let handoverMs = NaN;
  for (;;) {
    const g = await members();
    if (g.state === 'Stable' && g.members.length === 1) {
      handoverMs = Date.now() - killedAt;
      break;
    }
    if (Date.now() - killedAt > sessionTimeoutMs + 60_000) break;
    await sleep(100);
  }
  publishing = false;
  await publisher;
  await tracker.close();
  await procs[0].kill('SIGTERM');
  await admin.deleteTopics({ topics: Object.values(overrides).filter((v): v is string => typeof v === 'string' && v.startsWith(`bench.${id}.`) && !v.endsWith('.storage')) }).catch(() => undefined);
  await admin.disconnect();
  return {
    session_timeout_ms: sessionTimeoutMs,
    heartbeat_ms: heartbeatIntervalFor(sessionTimeoutMs),
    load_s: LOAD_SECONDS,
    published_per_s: publishedPerS,
    rebalances_under_load: log ? lines.length : memberChanges,
    rebalance_reasons: reasons,
    handover_ms: handoverMs,
  };
}

async function main(): Promise<void> {
  const dbUrl = await migratedDatabase('finops_handover_bench', ['cost_events', 'persona_daily_costs', 'dead_letters']);
  const rows: Row[] = [];
  for (const timeout of TIMEOUTS) {
    say(`session timeout ${timeout} ms: two storage members, ${LOAD_SECONDS} s of full load, then one SIGKILLed`);
    const row = await measure(timeout, dbUrl);
    say(JSON.stringify(row));
    rows.push(row);
  }
  process.stdout.write(`${JSON.stringify({ bench: 'group-handover', rows })}\n`);
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
