/**
 * The peer of the storage consumer: Debezium's JDBC sink connector in a Kafka Connect standalone
 * worker, draining a topic of cost events that is already full into a plain table on the same
 * Postgres. The events are the SDK's own (Avro, Confluent framing: magic byte + 4-byte schema id),
 * read by Apicurio's Avro converter, which looks the id up in the same registry (the SDK registers
 * through the ccompat API, whose ids are content ids) through the registry's own v2 API.
 *
 * Rows are flattened by Connect's Flatten SMT (llm_usage.model → llm_usage_model, …) and upserted
 * by event_id (the storage consumer also dedups by id). The maps (metadata, price.unit_prices) go to
 * hstore columns, the Postgres dialect's type for a Connect map.
 *
 * Timing: each row records clock_timestamp() when it is written (a column default, so the
 * connector does not know of it). The drain rate is the rows stored over the time from the first
 * row to the last: JVM start-up, plugin scanning and the consumer group join are outside it.
 * Connector start to last row is reported beside it. Progress is read from the connector group's
 * committed offsets, so nothing polls the table while it is being filled.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { sleep } from '../../src/retry';
import { ensureConnectLibs, hasServiceManifests } from './connect-libs';
import { Properties, startStandaloneWorker, StandaloneWorker } from './connect-standalone';
import { hotFrames, ThreadSampler } from './thread-sampler';

export interface DebeziumPeerOptions {
  topic: string;
  /** Events expected in the topic; defaults to what the topic holds when the drain starts. */
  events?: number;
  /** postgres:// URL of the bench database (created if missing, through the postgres superuser). */
  databaseUrl: string;
  /** The registry's Confluent-compatible URL, e.g. http://127.0.0.1:18081/apis/ccompat/v7. */
  registryUrl: string;
  kafkaBrokers: string | string[];
  /** Defaults to the topic's partition count. */
  tasks?: number;
  /** Rows per JDBC batch and records per consumer poll (default 5000, the storage consumer's batch). */
  batchSize?: number;
  /** Give up when the committed offsets have not moved for this long (default 5 min; start-up included). */
  stallTimeoutMs?: number;
  /** Samples the sink task threads' stacks (jcmd) during the drain and logs the hottest frames. */
  profile?: boolean;
  log?: (msg: string) => void;
}

export interface DebeziumPeerResult {
  peer: 'debezium-jdbc';
  /** Rows stored / (last row's write time − first row's write time). */
  drainEventsPerS: number;
  stored: number;
  /** Rows stored / (JVM spawn → last row), start-up included. */
  startToLastRowEventsPerS: number;
  /** JVM spawn → first row stored. */
  startupS: number;
  /** First row → last row. */
  drainS: number;
  /** CPU time of the Connect JVM (all its threads) between the first and the last row, per row stored. */
  jvmCpuUsPerEvent: number;
  /** The machine's 1-minute load average when the drain started and when it ended. */
  loadAverage: [number, number];
  tasks: number;
  batchSize: number;
  insertMode: 'upsert';
}

const CONNECTOR_CLASS = 'io.debezium.connector.jdbc.JdbcSinkConnector';
const AVRO_CONVERTER = 'io.apicurio.registry.utils.converter.AvroConverter';

/** The flat table the connector writes: cost-event.avsc after Flatten with '_' as delimiter. */
export function peerTableSql(table: string): string {
  return `CREATE TABLE ${table} (
    event_id text PRIMARY KEY,
    event_time timestamptz NOT NULL,
    cost_type text NOT NULL,
    amount numeric(20, 9) NOT NULL,
    currency text NOT NULL,
    persona_id text NOT NULL,
    post_id text,
    operation text,
    service text,
    correlation_id text,
    request_id text,
    llm_usage_provider text,
    llm_usage_model text,
    llm_usage_input_tokens bigint,
    llm_usage_output_tokens bigint,
    llm_usage_cached_input_tokens bigint,
    compute_usage_resource_type text,
    compute_usage_cpu_cores numeric(18, 6),
    compute_usage_memory_gb numeric(18, 6),
    compute_usage_duration_ms bigint,
    vector_db_usage_provider text,
    vector_db_usage_operation text,
    vector_db_usage_units bigint,
    metadata hstore,
    stored_at timestamptz NOT NULL DEFAULT clock_timestamp()
  )`;
}

/** The ccompat URL's registry, at its native v2 API (the one Apicurio's converter speaks). */
export function apicurioV2Url(registryUrl: string): string {
  const url = new URL(registryUrl);
  const base = url.pathname.replace(/\/apis\/ccompat\/v\d+\/?$/, '').replace(/\/$/, '');
  return `${url.origin}${base}/apis/registry/v2`;
}

export function jdbcUrl(databaseUrl: string): { url: string; user: string; password: string } {
  const u = new URL(databaseUrl);
  // reWriteBatchedInserts: the driver sends a JDBC batch as multi-row INSERTs, as a user tuning the sink would.
  return {
    url: `jdbc:postgresql://${u.hostname}:${u.port || 5432}${u.pathname}?reWriteBatchedInserts=true`,
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
}

export function workerProperties(o: { brokers: string[]; registryUrl: string; batchSize: number }): Properties {
  return {
    'bootstrap.servers': o.brokers.join(','),
    'key.converter': 'org.apache.kafka.connect.storage.StringConverter',
    'value.converter': AVRO_CONVERTER,
    'value.converter.apicurio.registry.url': apicurioV2Url(o.registryUrl),
    // Confluent framing: magic byte + 4-byte id in the payload, no headers; the id is a content id.
    'value.converter.apicurio.registry.as-confluent': true,
    'value.converter.apicurio.registry.use-id': 'contentId',
    'value.converter.apicurio.registry.headers.enabled': false,
    'offset.flush.interval.ms': 1000,
    // One poll fills one JDBC batch.
    'consumer.max.poll.records': o.batchSize,
    'consumer.max.partition.fetch.bytes': 8 * 1024 * 1024,
    'consumer.fetch.max.bytes': 64 * 1024 * 1024,
    'consumer.fetch.min.bytes': 1,
  };
}

export function connectorProperties(o: { name: string; topic: string; table: string; databaseUrl: string; tasks: number; batchSize: number }): Properties {
  const jdbc = jdbcUrl(o.databaseUrl);
  return {
    name: o.name,
    'connector.class': CONNECTOR_CLASS,
    'tasks.max': o.tasks,
    topics: o.topic,
    'connection.url': jdbc.url,
    'connection.username': jdbc.user,
    'connection.password': jdbc.password,
    'connection.pool.min_size': 1,
    'connection.pool.max_size': 2,
    'connection.pool.acquire_increment': 1,
    'insert.mode': 'upsert',
    'primary.key.mode': 'record_value',
    'primary.key.fields': 'event_id',
    // Collapses repeats of a key within a batch (an upsert statement cannot touch a row twice).
    'use.reduction.buffer': true,
    'batch.size': o.batchSize,
    'schema.evolution': 'none',
    'collection.name.format': o.table,
    'use.time.zone': 'UTC',
    // Flatten refuses maps anywhere in the value, and Kafka 3.9's SMTs cannot reach a field nested
    // in a struct: the maps and the struct holding one (price) are moved into headers, the usage
    // records flattened, and metadata moved back (a top-level map, written as hstore). price
    // (source, version, status, unit_prices) is not stored by the peer.
    transforms: 'maps,flatten,metadata',
    'transforms.maps.type': 'org.apache.kafka.connect.transforms.HeaderFrom$Value',
    'transforms.maps.fields': 'metadata,price',
    'transforms.maps.headers': 'metadata,price',
    'transforms.maps.operation': 'move',
    'transforms.flatten.type': 'org.apache.kafka.connect.transforms.Flatten$Value',
    'transforms.flatten.delimiter': '_',
    'transforms.metadata.type': 'io.debezium.transforms.HeaderToValue',
    'transforms.metadata.headers': 'metadata',
    'transforms.metadata.fields': 'metadata',
    'transforms.metadata.operation': 'move',
  };
}

async function prepareTable(databaseUrl: string, table: string): Promise<void> {
  const url = new URL(databaseUrl);
  const db = decodeURIComponent(url.pathname.slice(1));
  const admin = new URL(databaseUrl);
  admin.username = 'postgres';
  admin.password = '';
  admin.pathname = '/postgres';
  const su = new Client({ connectionString: admin.toString() });
  await su.connect();
  try {
    if (!(await su.query('SELECT 1 FROM pg_database WHERE datname = $1', [db])).rowCount) {
      await su.query(`CREATE DATABASE "${db.replace(/"/g, '""')}" OWNER "${decodeURIComponent(url.username).replace(/"/g, '""')}"`);
    }
  } finally {
    await su.end();
  }
  admin.pathname = `/${encodeURIComponent(db)}`;
  const suDb = new Client({ connectionString: admin.toString() });
  await suDb.connect();
  try {
    await suDb.query('CREATE EXTENSION IF NOT EXISTS hstore');
  } finally {
    await suDb.end();
  }
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query(`DROP TABLE IF EXISTS ${table}`);
    await c.query(peerTableSql(table));
  } finally {
    await c.end();
  }
}

async function dropTable(databaseUrl: string, table: string): Promise<void> {
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query(`DROP TABLE IF EXISTS ${table}`);
  } finally {
    await c.end();
  }
}

/** utime + stime of a process, in ms (from /proc; clock ticks of 10 ms). */
function cpuMsOf(pid: number | undefined): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** The CPU reading taken closest to a moment. */
function cpuAt(samples: { at: number; cpuMs: number }[], at: number): number {
  let best = samples[0];
  for (const s of samples) if (Math.abs(s.at - at) < Math.abs(best.at - at)) best = s;
  return best?.cpuMs ?? NaN;
}


export async function measureDebeziumPeer(opts: DebeziumPeerOptions): Promise<DebeziumPeerResult> {
  const log = opts.log ?? ((msg: string) => process.stderr.write(`[peer] ${msg}\n`));
  const brokers = Array.isArray(opts.kafkaBrokers) ? opts.kafkaBrokers : opts.kafkaBrokers.split(',');
  const batchSize = opts.batchSize ?? 5000;
  const stallTimeoutMs = opts.stallTimeoutMs ?? 5 * 60_000;
  const id = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const name = `peer-debezium-jdbc-${id}`;
  const groupId = `connect-${name}`; // Connect's group for a sink connector
  const table = `peer_cost_events_${id}`;

  const libs = await ensureConnectLibs({ log });
  const kafka = new Kafka({ clientId: 'peer-bench', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  let worker: StandaloneWorker | undefined;
  try {
    const [meta] = (await admin.fetchTopicMetadata({ topics: [opts.topic] })).topics;
    const partitions = meta.partitions.length;
    const ends = await admin.fetchTopicOffsets(opts.topic);
    // Partitions with nothing to read never get a committed offset: they are not waited for.
    const endOf = new Map(ends.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high)]));
    const inTopic = ends.reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
    const expected = opts.events ?? inTopic;
    const tasks = opts.tasks ?? partitions;
    log(`draining ${opts.topic} (${inTopic} messages, ${partitions} partitions) into ${table} with ${tasks} tasks, batches of ${batchSize}, upsert by event_id`);
    await prepareTable(opts.databaseUrl, table);

    worker = await startStandaloneWorker({
      libs,
      worker: {
        ...workerProperties({ brokers, registryUrl: opts.registryUrl, batchSize }),
        // Plugins found through their manifests, not by scanning every jar (seconds of CPU at start-up).
        'plugin.discovery': hasServiceManifests(libs) ? 'service_load' : 'hybrid_warn',
      },
      connector: connectorProperties({ name, topic: opts.topic, table, databaseUrl: opts.databaseUrl, tasks, batchSize }),
    });
    const w = worker;
    let exitCode: number | null | undefined;
    void w.exited.then((code) => (exitCode = code));

    const loadAtStart = os.loadavg()[0];
    const cpuSamples: { at: number; cpuMs: number }[] = [];
    const sampler = opts.profile && w.child.pid ? new ThreadSampler(w.child.pid) : undefined;
    let lastDone = -1;
    let lastProgressAt = Date.now();
    let lastReport = 0;
    let lastStatusCheck = 0;
    for (;;) {
      await sleep(250);
      const cpuMs = cpuMsOf(w.child.pid);
      if (cpuMs !== undefined) cpuSamples.push({ at: Date.now(), cpuMs });
      if (exitCode !== undefined) throw new Error(`the Connect worker exited with ${exitCode}:\n${w.logTail()}`);
      if (Date.now() - lastStatusCheck > 2000) {
        lastStatusCheck = Date.now();
        const status = await w.status();
        const failed = status && [status.connector, ...status.tasks].find((s) => s.state === 'FAILED');
        if (failed) throw new Error(`the connector failed: ${(failed.trace ?? '').split('\n').slice(0, 12).join('\n')}`);
      }
      // The group's coordinator may move or still be loading: a failed look-up is retried on the next tick.
      const committed = (await admin.fetchOffsets({ groupId, topics: [opts.topic] }).catch(() => undefined))?.[0];
      if (!committed) continue;
      let done = 0;
      let behind = 0;
      for (const p of committed.partitions) {
        const at = Number(p.offset);
        const end = endOf.get(p.partition);
        if (end === undefined) continue;
        done += Math.max(0, at);
        if (at < end) behind++;
      }
      if (behind === 0) break;
      if (Date.now() - lastReport > 5000) {
        lastReport = Date.now();
        log(`committed ${done} of ${inTopic}`);
      }
      if (done !== lastDone) {
        if (lastDone <= 0 && done > 0) sampler?.start();
        lastDone = done;
        lastProgressAt = Date.now();
      } else if (Date.now() - lastProgressAt > stallTimeoutMs) {
        throw new Error(`the connector's committed offsets stayed at ${done} of ${inTopic} for ${stallTimeoutMs / 1000} s`);
      }
    }
    const loadAtEnd = os.loadavg()[0];
    if (sampler) {
      sampler.stop();
      log(`where the sink tasks spent the drain (frames counted over thread dumps):\n${hotFrames(w.stdout())}`);
    }
    await w.stop();
    worker = undefined;

    const c = new Client({ connectionString: opts.databaseUrl });
    await c.connect();
    try {
      const { rows } = await c.query(
        `SELECT count(*)::bigint AS stored,
                extract(epoch FROM min(stored_at)) * 1000 AS first_ms,
                extract(epoch FROM max(stored_at)) * 1000 AS last_ms
           FROM ${table}`,
      );
      const stored = Number(rows[0].stored);
      const firstMs = Number(rows[0].first_ms);
      const lastMs = Number(rows[0].last_ms);
      if (stored !== expected) log(`stored ${stored} rows, expected ${expected}`);
      const drainS = (lastMs - firstMs) / 1000;
      const startupS = (firstMs - w.spawnedAt) / 1000;
      const result: DebeziumPeerResult = {
        peer: 'debezium-jdbc',
        drainEventsPerS: Math.round(stored / drainS),
        stored,
        startToLastRowEventsPerS: Math.round(stored / ((lastMs - w.spawnedAt) / 1000)),
        startupS: Number(startupS.toFixed(2)),
        drainS: Number(drainS.toFixed(2)),
        jvmCpuUsPerEvent: Number((((cpuAt(cpuSamples, lastMs) - cpuAt(cpuSamples, firstMs)) * 1000) / stored).toFixed(1)),
        loadAverage: [Number(loadAtStart.toFixed(2)), Number(loadAtEnd.toFixed(2))],
        tasks,
        batchSize,
        insertMode: 'upsert',
      };
      log(`stored ${stored} rows: first row ${startupS.toFixed(1)} s after the JVM started, last ${drainS.toFixed(1)} s after the first → ${result.drainEventsPerS} events/s`);
      return result;
    } finally {
      await c.end();
    }
  } catch (err) {
    if (worker) log(`connect log (last lines):\n${worker.logTail(60)}`);
    throw err;
  } finally {
    await worker?.stop();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
    if (!process.env.PEER_KEEP_TABLE) await dropTable(opts.databaseUrl, table).catch(() => undefined);
  }
}
