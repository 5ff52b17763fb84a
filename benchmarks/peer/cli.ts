/**
 * `npm run bench:peer`: fills a fresh topic with PEER_EVENTS cost events through the SDK (Avro,
 * Confluent framing, as in production), then measures how fast Debezium's JDBC sink in Kafka
 * Connect standalone drains it into a plain table of the finops_peer_bench database.
 * Progress goes to stderr; the last line on stdout is one JSON object with the figures.
 */
import { randomBytes } from 'node:crypto';
import { trackMixedCost } from '../ingest-mix';
import { Overrides, setting } from '../../src/config';
import { measureDebeziumPeer } from './debezium-jdbc';

const EVENTS = Number(process.env.PEER_EVENTS ?? 200_000);
const IN_FLIGHT = 20_000;

const say = (msg: string) => process.stderr.write(`[bench:peer] ${msg}\n`);

async function fill(overrides: Overrides, events: number): Promise<void> {
  // Imported here, after LOG_LEVEL is set: modules make their loggers when loaded.
  const { CostTracker } = await import('../../producers');
  const tracker = new CostTracker({ overrides });
  await tracker.start();
  const t0 = Date.now();
  let failed = 0;
  let inFlight = 0;
  let wake: (() => void) | undefined;
  try {
    for (let i = 0; i < events; i++) {
      if (inFlight >= IN_FLIGHT) await new Promise<void>((r) => (wake = r));
      inFlight++;
      trackMixedCost(tracker, i, 'peer')
        .catch(() => failed++)
        .finally(() => {
          inFlight--;
          if (wake && inFlight < IN_FLIGHT / 2) {
            const w = wake;
            wake = undefined;
            w();
          }
        });
    }
    await tracker.flush();
  } finally {
    await tracker.close();
  }
  if (failed) throw new Error(`${failed} of ${events} events were not published`);
  say(`published ${events} events in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

async function main(): Promise<void> {
  // The SDK logs JSON to stdout; here stdout carries only the result line.
  process.env.LOG_LEVEL ??= 'silent';
  const id = `peer${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const overrides: Overrides = { TOPIC_COST_EVENTS: `bench.${id}.cost-events`, TOPIC_POST_OUTCOMES: `bench.${id}.post-outcomes` };
  const topic = String(overrides.TOPIC_COST_EVENTS);
  const databaseUrl = (() => {
    const url = new URL(process.env.PEER_DATABASE_URL ?? setting('DATABASE_URL'));
    if (!process.env.PEER_DATABASE_URL) url.pathname = '/finops_peer_bench';
    return url.toString();
  })();
  const { createKafka, ensureTopics } = await import('../../src/kafka/client');
  const kafka = createKafka(overrides, 'bench-peer');
  await ensureTopics(kafka, [{ topic }], overrides);
  try {
    say(`filling ${topic} with ${EVENTS} events through the SDK`);
    await fill(overrides, EVENTS);
    const result = await measureDebeziumPeer({
      topic,
      events: EVENTS,
      databaseUrl,
      registryUrl: setting('SCHEMA_REGISTRY_URL'),
      kafkaBrokers: setting('KAFKA_BROKERS'),
      tasks: process.env.PEER_TASKS ? Number(process.env.PEER_TASKS) : undefined,
      batchSize: process.env.PEER_BATCH_SIZE ? Number(process.env.PEER_BATCH_SIZE) : undefined,
      profile: Boolean(process.env.PEER_PROFILE),
      log: (msg) => say(msg),
    });
    process.stdout.write(
      `${JSON.stringify({
        events: EVENTS,
        stored: result.stored,
        peer: result.peer,
        peer_drain_events_per_s: result.drainEventsPerS,
        peer_start_to_last_row_events_per_s: result.startToLastRowEventsPerS,
        peer_startup_s: result.startupS,
        peer_drain_s: result.drainS,
        peer_jvm_cpu_us_per_event: result.jvmCpuUsPerEvent,
        load_average_1m: result.loadAverage,
        tasks: result.tasks,
        batch_size: result.batchSize,
        insert_mode: result.insertMode,
      })}\n`,
    );
  } finally {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
    // The subjects the SDK registered for this run's topics.
    for (const t of [topic, String(overrides.TOPIC_POST_OUTCOMES)]) {
      await fetch(`${setting('SCHEMA_REGISTRY_URL')}/subjects/${encodeURIComponent(`${t}-value`)}`, { method: 'DELETE' }).catch(() => undefined);
    }
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    say(`failed: ${(err as Error).stack}`);
    process.exit(1);
  },
);
