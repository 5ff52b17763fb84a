/**
 * Query-API benchmark (`npm run bench:api`).
 *
 *  1. Data: BENCH_API_ROWS cost events (default 10,000,000) generated in-process and streamed with
 *     COPY into cost_events of a dedicated database (finops_bench), with the persona_daily_costs
 *     rollup computed in the same pass and COPYed too (post_costs is a view over the events). Indexes and the primary
 *     key are dropped for the load and rebuilt afterwards, then ANALYZE. A rerun finds the data
 *     (bench_api_meta) and skips the load.
 *  2. Server: the API in a child process (its own event loop), Redis cache on a fresh key prefix.
 *  3. Load (open loop, loopback, see open-loop.ts): GET /costs/post/:id at a constant arrival rate —
 *     BENCH_API_HOT_SHARE of requests on BENCH_API_HOT_POSTS hot posts, the rest uniformly over every
 *     post (cold, mostly cache misses) — then the 30-day persona breakdown for random personas.
 *  Latency runs from each request's scheduled send time to its last response byte, over every
 *  request. The last line printed is one JSON object.
 */
import { freePort } from '../testkit/pipeline-settings';
import { spawn, ChildProcess } from 'node:child_process';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { setting } from '../src/config';
import { createPool } from '../src/db/pool';
import { migrate } from '../src/db/migrate';
import { formatUsd } from '../src/money';
import { cpuTimes, openLoop, percentile, stealPercent } from './open-loop';

const ROWS = Number(process.env.BENCH_API_ROWS ?? 10_000_000);
const EVENTS_PER_POST = 10;
const POSTS = Math.ceil(ROWS / EVENTS_PER_POST);
const PERSONAS = 200;
const DAYS = 60;
const HOT_POSTS = Number(process.env.BENCH_API_HOT_POSTS ?? 1000);
const HOT_SHARE = Number(process.env.BENCH_API_HOT_SHARE ?? 0.9);
const POST_RATE = Number(process.env.BENCH_API_POST_RATE ?? 1000);
const POST_SECONDS = Number(process.env.BENCH_API_POST_SECONDS ?? 20);
const BREAKDOWN_RATE = Number(process.env.BENCH_API_BREAKDOWN_RATE ?? 200);
const BREAKDOWN_SECONDS = Number(process.env.BENCH_API_BREAKDOWN_SECONDS ?? 10);
const MAX_SOCKETS = Number(process.env.BENCH_API_MAX_SOCKETS ?? 64);
const DATA_VERSION = 2; // 2: post_costs is a view (sql/090), no longer loaded
const TOKEN = 'bench-read-token-0123456789';
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-4', 'gpt-3.5-turbo-0125'];
// nano-USD per input / output token (USD per million tokens × 1000)
const MODEL_PRICES: [number, number][] = [[2500, 10000], [150, 600], [30000, 60000], [500, 1500]];

const say = (msg: string) => process.stderr.write(`[bench:api] ${msg}\n`);

function benchDatabaseUrl(): string {
  if (process.env.BENCH_DATABASE_URL) return process.env.BENCH_DATABASE_URL;
  const url = new URL(setting('DATABASE_URL'));
  url.pathname = '/finops_bench';
  return url.toString();
}

// ── deterministic data ──────────────────────────────────────────────────────────────────────
function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  x = Math.imul(x ^ (x >>> 16), 0x45d9f3b);
  return (x ^ (x >>> 16)) >>> 0;
}
const postId = (p: number) => `bench-post-${p}`;
const personaOf = (p: number) => `bench-persona-${mix(p) % PERSONAS}`;
const DAY_MS = 86_400_000;

interface GenEvent {
  line: string;
  type: 'openai_api' | 'kubernetes' | 'vector_db';
  model: string;
  nano: number;
  time: number;
}

/** The events of post p (all within one UTC day, 0–59 days before `today`). */
function postEvents(p: number, today: number): GenEvent[] {
  const h = mix(p);
  const persona = personaOf(p);
  const day = today - ((h >>> 8) % DAYS) * DAY_MS;
  const start = day + (mix(p + 1) % 80_000_000);
  const m = (h >>> 4) % MODELS.length;
  const out: GenEvent[] = [];
  const n = Math.min(EVENTS_PER_POST, ROWS - p * EVENTS_PER_POST);
  for (let k = 0; k < n; k++) {
    const r = mix(p * 16 + k);
    const time = start + k * 1000;
    const ts = new Date(time).toISOString();
    const id = `b${p}-${k}`;
    const common = `${persona}\t${postId(p)}`;
    let line: string;
    let ev: Omit<GenEvent, 'line'>;
    if (k < 5) {
      const input = 500 + (r % 1500);
      const output = 100 + ((r >>> 11) % 500);
      const nano = input * MODEL_PRICES[m][0] + output * MODEL_PRICES[m][1];
      ev = { type: 'openai_api', model: MODELS[m], nano, time };
      line = `${id}\t${ts}\topenai_api\t${formatUsd(BigInt(nano))}\tUSD\t${common}\tgeneration\tbench\tcorr-${p}\treq-${id}\t${MODELS[m]}\t${input}\t${output}\t0\t\\N\t\\N\t\\N\t\\N\t\\N\tbench\t1\tpriced\t{}\t{}\t\\N\t\\N\n`;
    } else if (k < 8) {
      const nano = 30_000 + (r % 50_000);
      ev = { type: 'kubernetes', model: '', nano, time };
      line = `${id}\t${ts}\tkubernetes\t${formatUsd(BigInt(nano))}\tUSD\t${common}\trender\tbench\tcorr-${p}\t\\N\t\\N\t\\N\t\\N\t\\N\t0.500000\t1.000000\t${1000 + (r % 60_000)}\t\\N\t\\N\tbench\t1\tpriced\t{}\t{}\t\\N\t\\N\n`;
    } else {
      const units = 1 + (r % 20);
      const nano = units * 4000;
      ev = { type: 'vector_db', model: '', nano, time };
      line = `${id}\t${ts}\tvector_db\t${formatUsd(BigInt(nano))}\tUSD\t${common}\t\\N\tbench\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\tquery\t${units}\tbench\t1\tpriced\t{}\t{}\t\\N\t\\N\n`;
    }
    out.push({ line, ...ev });
  }
  return out;
}

const EVENT_COLUMNS =
  'event_id, event_time, cost_type, amount_usd, currency, persona_id, post_id, operation, service, correlation_id, request_id, model, input_tokens, output_tokens, cached_input_tokens, cpu_cores, memory_gb, duration_ms, vector_operation, vector_units, price_source, price_version, price_status, unit_prices, metadata, kafka_partition, kafka_offset';

// ── loading ─────────────────────────────────────────────────────────────────────────────────
async function ensureDatabase(url: string): Promise<void> {
  const u = new URL(url);
  const admin = new Client({ connectionString: Object.assign(new URL(u), { pathname: '/postgres' }).toString() });
  await admin.connect();
  const name = u.pathname.slice(1);
  if (!(await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount) {
    await admin.query(`CREATE DATABASE "${name.replace(/"/g, '')}"`);
    say(`created database ${name}`);
  }
  await admin.end();
  const pool = createPool({ DATABASE_URL: url }, 'bench-api-migrate');
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
}

async function load(db: Client, today: number): Promise<void> {
  const t0 = Date.now();
  await db.query('TRUNCATE cost_events, persona_daily_costs'); // post_costs is a view over cost_events (sql/090)
  await db.query('SELECT finops_ensure_partitions(3, 1)');
  await db.query("SET maintenance_work_mem = '512MB'");
  await db.query('SET synchronous_commit = off');
  // Drop cost_events' indexes and primary key for the load; their definitions are recreated after.
  const pk = (await db.query("SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'cost_events'::regclass AND contype = 'p'")).rows;
  const idx = (
    await db.query(
      "SELECT i.relname AS name, pg_get_indexdef(i.oid) AS def FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = 'cost_events'::regclass AND NOT x.indisprimary",
    )
  ).rows;
  for (const i of idx) await db.query(`DROP INDEX ${i.name}`);
  for (const c of pk) await db.query(`ALTER TABLE cost_events DROP CONSTRAINT ${c.conname}`);

  const daily = new Map<string, { nano: bigint; n: number }>();
  let written = 0;
  function* chunks(): Generator<string> {
    for (let p = 0; p < POSTS; p += 500) {
      let buf = '';
      for (let q = p; q < Math.min(POSTS, p + 500); q++) {
        const evs = postEvents(q, today);
        for (const e of evs) {
          buf += e.line;
          const key = `${personaOf(q)}\t${new Date(e.time).toISOString().slice(0, 10)}\t${e.type}\t${e.model}`;
          const d = daily.get(key);
          if (d) {
            d.nano += BigInt(e.nano);
            d.n++;
          } else daily.set(key, { nano: BigInt(e.nano), n: 1 });
        }
        written += evs.length;
      }
      if (p % 100_000 === 0) say(`COPY cost_events: ${written.toLocaleString()} rows, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      yield buf;
    }
  }
  await pipeline(Readable.from(chunks()), db.query(copyFrom(`COPY cost_events (${EVENT_COLUMNS}) FROM STDIN`)));
  say(`cost_events: ${written.toLocaleString()} rows in ${((Date.now() - t0) / 1000).toFixed(0)} s; rollups next`);
  await pipeline(
    Readable.from([[...daily].map(([k, v]) => `${k}\t${formatUsd(v.nano)}\t${v.n}\n`).join('')]),
    db.query(copyFrom('COPY persona_daily_costs (persona_id, day, cost_type, model, total_usd, event_count) FROM STDIN')),
  );
  say(`rollups: ${POSTS.toLocaleString()} posts, ${daily.size.toLocaleString()} persona-day rows; rebuilding indexes`);
  for (const c of pk) await db.query(`ALTER TABLE cost_events ADD CONSTRAINT ${c.conname} ${c.def}`);
  // pg_get_indexdef of a partitioned index says ON ONLY (parent only); build it on every partition.
  for (const i of idx) await db.query(String(i.def).replace(' ON ONLY ', ' ON '));
  await db.query('ANALYZE cost_events');
  await db.query('ANALYZE persona_daily_costs');
  await db.query('CREATE TABLE IF NOT EXISTS bench_api_meta (rows bigint, version int, today bigint, loaded_at timestamptz DEFAULT now())');
  await db.query('TRUNCATE bench_api_meta');
  await db.query('INSERT INTO bench_api_meta (rows, version, today) VALUES ($1, $2, $3)', [written, DATA_VERSION, today]);
  say(`loaded ${written.toLocaleString()} events in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

async function prepareData(url: string): Promise<{ rows: number; today: number }> {
  await ensureDatabase(url);
  const db = new Client({ connectionString: url });
  await db.connect();
  try {
    const meta = (await db.query("SELECT rows::text AS rows, version, today::text AS today FROM bench_api_meta WHERE to_regclass('bench_api_meta') IS NOT NULL").catch(() => ({ rows: [] }))).rows[0];
    if (meta && Number(meta.rows) === ROWS && meta.version === DATA_VERSION) {
      say(`reusing ${Number(meta.rows).toLocaleString()} events already loaded in ${new URL(url).pathname.slice(1)}`);
      return { rows: Number(meta.rows), today: Number(meta.today) };
    }
    const now = new Date();
    const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    await load(db, today);
    return { rows: ROWS, today };
  } finally {
    await db.end();
  }
}

// ── server child ────────────────────────────────────────────────────────────────────────────

async function serve(): Promise<void> {
  const [{ startApi }, { breakerControlAdmin }] = await Promise.all([import('../api'), import('../app/roles')]);
  const api = await startApi({}, { controls: breakerControlAdmin });
  process.on('SIGTERM', () => void api.close().then(() => process.exit(0)));
}

async function startServer(url: string): Promise<{ child: ChildProcess; base: string; metricsBase: string }> {
  const port = await freePort();
  const metricsPort = await freePort();
  const tsx = path.resolve(__dirname, '../node_modules/.bin/tsx');
  const child = spawn(tsx, [__filename, '--serve'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: {
      ...process.env,
      DATABASE_URL: url,
      DATABASE_POOL_MAX: '24',
      API_PORT: String(port),
      API_HOST: '127.0.0.1',
      API_READ_TOKENS: TOKEN,
      API_CACHE_PREFIX: `finops:bench:${Date.now().toString(36)}:`,
      API_METRICS_PORT: String(metricsPort),
      // One client token drives 1,000 req/s: the per-token limiter runs (its Redis call is measured)
      // with a limit this load never reaches.
      API_RATE_LIMIT_MAX: '1000000000',
      LOG_LEVEL: 'warn',
    },
  });
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${base}/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline || child.exitCode !== null) throw new Error('API server did not become ready');
    await new Promise((r) => setTimeout(r, 200));
  }
  return { child, base, metricsBase: `http://127.0.0.1:${metricsPort}` };
}

// ── load ────────────────────────────────────────────────────────────────────────────────────
const drive = (base: string, pathFor: () => string, rate: number, seconds: number) =>
  openLoop({ base, headers: { authorization: `Bearer ${TOKEN}` }, pathFor, rate, seconds, maxSockets: MAX_SOCKETS, groupByHeader: 'x-cache' });

async function cacheCounters(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const out: Record<string, number> = { hit: 0, miss: 0, bypass: 0 };
  for (const m of text.matchAll(/^finops_api_cache_requests_total\{outcome="(\w+)"\} (\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

async function main(): Promise<void> {
  if (process.argv.includes('--serve')) return serve();
  const url = benchDatabaseUrl();
  const { rows, today } = await prepareData(url);
  const { child, base, metricsBase } = await startServer(url);
  try {
    const rnd = (n: number) => Math.floor(Math.random() * n);
    const hot = Array.from({ length: Math.min(HOT_POSTS, POSTS) }, () => rnd(POSTS));
    const postPath = () => `/costs/post/${postId(Math.random() < HOT_SHARE ? hot[rnd(hot.length)] : rnd(POSTS))}`;
    const todayDay = new Date(today).toISOString().slice(0, 10);
    const startDay = new Date(today - 29 * DAY_MS).toISOString().slice(0, 10);
    const breakdownPath = () => `/costs/breakdown?start_date=${startDay}&end_date=${todayDay}&persona_id=bench-persona-${rnd(PERSONAS)}`;

    say(`warm-up: ${hot.length} hot posts once, 3 s of mixed load`);
    for (const p of hot) await fetch(`${base}/costs/post/${postId(p)}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    await drive(base, postPath, POST_RATE, 3);

    const before = await cacheCounters(metricsBase);
    say(`post breakdown: ${POST_RATE} req/s for ${POST_SECONDS} s, open loop, up to ${MAX_SOCKETS} sockets, ${HOT_SHARE * 100}% on ${hot.length} hot posts`);
    const cpuBefore = cpuTimes();
    const post = await drive(base, postPath, POST_RATE, POST_SECONDS);
    const steal = stealPercent(cpuBefore);
    const after = await cacheCounters(metricsBase);
    say(`post: ${JSON.stringify(post)}; CPU steal (time the hypervisor gave to other guests) ${steal}%`);

    // Uncached cost of the 30-day breakdown (the DB path a cache miss takes), measured once per persona.
    const db = new Client({ connectionString: url });
    await db.connect();
    const { costBreakdown } = await import('../api/queries/breakdown');
    const dbTimes: number[] = [];
    const pool = { query: (q: never) => db.query(q) } as unknown as import('pg').Pool;
    for (let i = 0; i < PERSONAS; i++) {
      const t = process.hrtime.bigint();
      await costBreakdown(pool, { startDay, endDay: todayDay, days: 30 }, `bench-persona-${i}`);
      dbTimes.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    await db.end();
    dbTimes.sort((a, b) => a - b);

    say(`30-day persona breakdown: ${BREAKDOWN_RATE} req/s for ${BREAKDOWN_SECONDS} s`);
    const breakdown = await drive(base, breakdownPath, BREAKDOWN_RATE, BREAKDOWN_SECONDS);
    say(`breakdown: ${JSON.stringify(breakdown)}; uncached (Postgres) p95 ${percentile(dbTimes, 0.95).toFixed(2)} ms over ${PERSONAS} personas`);
    const hits = after.hit - before.hit;
    const lookups = hits + (after.miss - before.miss) + (after.bypass - before.bypass);
    console.log(
      JSON.stringify({
        rows,
        rps: post.rps,
        post_p50_ms: post.p50,
        post_p99_ms: post.p99,
        breakdown_p95_ms: breakdown.p95,
        errors: post.errors + breakdown.errors,
        cache_hit_ratio: lookups ? Math.round((hits / lookups) * 1000) / 1000 : 0,
        breakdown_uncached_p95_ms: Math.round(percentile(dbTimes, 0.95) * 100) / 100,
        post_requests: post.requests,
        cpu_steal_pct: steal,
      }),
    );
  } finally {
    child.kill('SIGTERM');
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
