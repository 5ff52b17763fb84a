/**
 * SDK CPU benchmark: publishes BENCH_SDK_EVENTS (default 500,000) cost events through CostTracker
 * to a fresh topic on the local broker, as fast as the SDK takes them (at most BENCH_SDK_IN_FLIGHT
 * calls outstanding), and measures process.cpuUsage (user + system) over the publish.
 *
 * Alongside, on the same machine and settings:
 *  - `caller_loop_cpu_us_per_event`: the benchmark's own loop with a tracker that does nothing
 *    (building the call arguments, the promise bookkeeping), included in the SDK figure;
 *  - `raw_kafkajs_cpu_us_per_event`: the same encoded messages sent with kafkajs alone
 *    (idempotent, acks=all, one request in flight, SDK_MAX_BATCH_EVENTS a batch): the floor of
 *    what any SDK on kafkajs costs. BENCH_SDK_RAW=0 skips it.
 *
 * Compression is SDK_COMPRESSION (none | gzip | snappy | lz4 | zstd). Run it under the shared lock:
 *   flock /tmp/finops-bench.lock npm run bench:sdk
 * The last line printed is one JSON object with the figures.
 */
import { randomBytes } from 'node:crypto';
import { Message } from 'kafkajs';
import { CostTracker, TrackedCost } from '../producers';
import { enumSetting, intSetting, Overrides } from '../src/config';
import { createKafka, ensureTopics } from '../src/kafka/client';
import { producerOptions } from '../src/kafka/options';
import { CostEventEncoder } from '../src/avro/cost-event-encoder';
import { COMPRESSIONS, compressionType } from '../src/kafka/codecs';

const EVENTS = Number(process.env.BENCH_SDK_EVENTS ?? 500_000);
const IN_FLIGHT = Number(process.env.BENCH_SDK_IN_FLIGHT ?? 20_000);
const RAW = process.env.BENCH_SDK_RAW !== '0';
const PERSONAS = Array.from({ length: 1000 }, (_, i) => `persona-${i}`);
const POSTS = Array.from({ length: 5000 }, (_, i) => `post-${i}`);
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-4', 'gpt-3.5-turbo-0125'];

const say = (msg: string) => process.stderr.write(`[bench:sdk] ${msg}\n`);

type Track = (i: number) => Promise<unknown>;

function caller(tracker: Pick<CostTracker, 'trackOpenAICost' | 'trackInfrastructureCost' | 'trackVectorDbCost'>): Track {
  return (i) => {
    const personaId = PERSONAS[i % PERSONAS.length];
    const postId = POSTS[i % POSTS.length];
    switch (i % 4) {
      case 0:
      case 1:
        return tracker.trackOpenAICost({ personaId, postId, operation: 'bench', service: 'bench', model: MODELS[i % MODELS.length], inputTokens: 500 + (i % 3000), outputTokens: 100 + (i % 900) });
      case 2:
        return tracker.trackInfrastructureCost({ personaId, postId, operation: 'bench', service: 'bench', cpuCores: '0.5', memoryGb: '1.25', durationMs: 1000 + (i % 60_000) });
      default:
        return tracker.trackVectorDbCost({ personaId, postId, operation: 'bench', service: 'bench', vectorOperation: 'query', units: 1 + (i % 50) });
    }
  };
}

interface Run {
  seconds: number;
  cpuUs: number;
  failed: number;
  peakRssMb: number;
}

/** Calls `track` n times with at most `maxInFlight` outstanding; CPU and wall time over the whole publish. */
async function publish(n: number, track: Track, flush: () => Promise<void>, maxInFlight = IN_FLIGHT): Promise<Run> {
  let inFlight = 0;
  let failed = 0;
  let wake: (() => void) | undefined;
  let peakRss = process.memoryUsage().rss;
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 250);
  const settle = () => {
    inFlight--;
    if (wake && inFlight <= maxInFlight / 2) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  const fail = () => {
    failed++;
    settle();
  };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    if (inFlight >= maxInFlight) await new Promise<void>((r) => (wake = r));
    inFlight++;
    track(i).then(settle, fail);
  }
  await flush();
  while (inFlight > 0) await new Promise((r) => setImmediate(r));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(rssTimer);
  return { seconds, cpuUs: cpu.user + cpu.system, failed, peakRssMb: Math.max(peakRss, process.memoryUsage().rss) / 2 ** 20 };
}

async function main(): Promise<void> {
  const id = `benchsdk${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const overrides: Overrides = { TOPIC_COST_EVENTS: `bench.${id}.cost-events`, TOPIC_POST_OUTCOMES: `bench.${id}.post-outcomes`, KAFKA_CLIENT_ID: id };
  const compression = enumSetting('SDK_COMPRESSION', COMPRESSIONS, overrides);
  const batchEvents = intSetting('SDK_MAX_BATCH_EVENTS', overrides, { min: 1 });
  const kafka = createKafka(overrides, 'bench');
  const topics = [overrides.TOPIC_COST_EVENTS as string, overrides.TOPIC_POST_OUTCOMES as string];
  await ensureTopics(kafka, topics.map((topic) => ({ topic })), overrides);
  const admin = kafka.admin();
  await admin.connect();
  try {
    // The caller's own loop, with a tracker that resolves at once: what the SDK figure includes but is not the SDK.
    const nothing = Promise.resolve({} as TrackedCost);
    const idle = { trackOpenAICost: () => nothing, trackInfrastructureCost: () => nothing, trackVectorDbCost: () => nothing };
    const loop = await publish(EVENTS, caller(idle), async () => undefined);

    const tracker = new CostTracker({ overrides });
    await tracker.start();
    const track = caller(tracker);
    await publish(20_000, track, () => tracker.flush()); // warm up: JIT, connections, price caches
    say(`publishing ${EVENTS} events through the SDK (compression ${compression})`);
    const sdk = await publish(EVENTS, track, () => tracker.flush());
    await tracker.close();
    say(`SDK: ${EVENTS} events in ${sdk.seconds.toFixed(1)} s, ${(sdk.cpuUs / EVENTS).toFixed(2)} µs CPU an event, ${sdk.failed} failed`);

    let raw: Run | undefined;
    if (RAW) {
      // The same messages the SDK sends, encoded beforehand, through kafkajs alone.
      const encoder = new CostEventEncoder();
      const sample: Message[] = [];
      const probe = caller({
        trackOpenAICost: (c) => sample.push({ key: c.personaId, value: encoder.encode(1, fakeEvent(c.personaId)) }) as never,
        trackInfrastructureCost: (c) => sample.push({ key: c.personaId, value: encoder.encode(1, fakeEvent(c.personaId)) }) as never,
        trackVectorDbCost: (c) => sample.push({ key: c.personaId, value: encoder.encode(1, fakeEvent(c.personaId)) }) as never,
      });
      for (let i = 0; i < batchEvents; i++) probe(i);
      const producer = kafka.producer(producerOptions({ retry: { retries: Number.MAX_SAFE_INTEGER } }));
      await producer.connect();
      const codec = compressionType(compression);
      const batches = Math.ceil(EVENTS / batchEvents);
      raw = await publish(batches, () => producer.sendBatch({ acks: -1, compression: codec, topicMessages: [{ topic: topics[0], messages: sample }] }), async () => undefined, 1);
      await producer.disconnect();
      say(`raw kafkajs: ${batches * batchEvents} messages in ${raw.seconds.toFixed(1)} s, ${(raw.cpuUs / (batches * batchEvents)).toFixed(2)} µs CPU a message`);
    }

    const round = (x: number, d = 2) => Number(x.toFixed(d));
    console.log(JSON.stringify({
      events: EVENTS,
      failed: sdk.failed,
      events_per_s: Math.round(EVENTS / sdk.seconds),
      sdk_cpu_us_per_event: round(sdk.cpuUs / EVENTS),
      caller_loop_cpu_us_per_event: round(loop.cpuUs / EVENTS),
      raw_kafkajs_cpu_us_per_event: raw ? round(raw.cpuUs / (Math.ceil(EVENTS / batchEvents) * batchEvents)) : null,
      rss_mb: Math.round(sdk.peakRssMb),
      compression,
    }));
  } finally {
    await admin.deleteTopics({ topics }).catch(() => undefined);
    await admin.disconnect();
  }
}

/** A representative event for the raw-kafkajs floor (its bytes are what the SDK sends). */
function fakeEvent(personaId: string) {
  return {
    event_id: '3f0c6a3e-9d0b-4c1e-8f7a-1b2c3d4e5f60', event_time: new Date(), cost_type: 'openai_api' as const, amount: 1_234_567n, currency: 'USD',
    persona_id: personaId, post_id: 'post-1', operation: 'bench', service: 'bench', correlation_id: null, request_id: null,
    llm_usage: { provider: 'openai', model: 'gpt-4o', input_tokens: 1500, output_tokens: 300, cached_input_tokens: 0 }, compute_usage: null, vector_db_usage: null,
    price: { source: '@pydantic/genai-prices', version: '0.1.8:openai/gpt-4o', status: 'priced' as const, unit_prices: { input_mtok: '2.5', output_mtok: '10' } },
    metadata: {},
  };
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
