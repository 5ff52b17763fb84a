/**
 * Codec benchmark: the same pre-encoded cost events published with each Kafka codec, with the
 * SDK's producer settings (idempotent, acks=-1, one request in flight, BENCH_BATCH-message
 * batches, keyed by persona with the Java-compatible partitioner), one batch at a time.
 *
 * Per codec: messages/s, process CPU µs per message (process.cpuUsage over the timed publish,
 * so it includes kafkajs's encoding and the codec), and bytes on the wire (the record-set bytes
 * handed to the codec and what it made of them). The last line is one JSON object.
 *
 * Run under the shared lock: `flock /tmp/finops-bench.lock npm run bench:codecs`.
 */
import { randomUUID } from 'node:crypto';
import { CompressionCodecs } from 'kafkajs';
import { AvroCodec, avroType } from '../src/avro/codec';
import { loadSchema } from '../src/avro/schemas';
import { setting } from '../src/config';
import { CostEvent } from '../src/events';
import { createKafka, ensureTopics } from '../src/kafka/client';
import { producerOptions } from '../src/kafka/options';
import { CODEC_IDS, Compression, COMPRESSIONS, compressionType } from '../src/kafka/codecs';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200_000);
const BATCH = Number(process.env.BENCH_BATCH ?? 4000);
const WARMUP = Number(process.env.BENCH_WARMUP_MESSAGES ?? 20_000);
/** Order of the runs (comma-separated); run twice in opposite orders to see order effects. */
const ORDER = (process.env.BENCH_CODECS ?? COMPRESSIONS.join(',')).split(',').map((c) => c.trim()) as Compression[];
const PERSONAS = 1000;
const MODELS = ['gpt-4o', 'gpt-4o-mini', 'gpt-4', 'gpt-3.5-turbo-0125'];

const say = (msg: string) => process.stderr.write(`[bench:codecs] ${msg}\n`);

function event(i: number): CostEvent {
  const persona = `persona-${i % PERSONAS}`;
  const input = 200 + (i % 3000);
  const output = 50 + (i % 700);
  return {
    event_id: randomUUID(), event_time: new Date(Date.now() - (i % 60_000)), cost_type: 'openai_api', amount: BigInt(input * 2500 + output * 10_000), currency: 'USD',
    persona_id: persona, post_id: `post-${i % 100_000}`, operation: 'hook_generation', service: 'content-generator', correlation_id: randomUUID(), request_id: randomUUID(),
    llm_usage: { provider: 'openai', model: MODELS[i % MODELS.length], input_tokens: input, output_tokens: output, cached_input_tokens: 0 },
    compute_usage: null, vector_db_usage: null,
    price: { source: '@pydantic/genai-prices', version: '0.1.8', status: 'priced', unit_prices: { input_mtok: '2.5', output_mtok: '10' } }, metadata: {},
  };
}

/** Counts record-set bytes in and out of each codec's compress. */
const wire = new Map<string, { raw: number; compressed: number }>();
function meter(name: Exclude<Compression, 'none'>): void {
  const codec = (CompressionCodecs as Record<number, () => { compress: (e: { buffer: Buffer }) => Promise<Buffer> }>)[CODEC_IDS[name]]();
  const compress = codec.compress.bind(codec);
  codec.compress = async (encoder) => {
    const out = await compress(encoder);
    const w = wire.get(name) ?? { raw: 0, compressed: 0 };
    w.raw += encoder.buffer.length;
    w.compressed += out.length;
    wire.set(name, w);
    return out;
  };
}

async function main(): Promise<void> {
  const kafka = createKafka({}, 'bench-codecs');
  const codec = new AvroCodec(setting('SCHEMA_REGISTRY_URL'));
  const runId = randomUUID().slice(0, 8);
  const schemaTopic = `bench.codecs.${runId}`;
  const schemaId = await codec.register(schemaTopic, loadSchema('cost-event'));
  const type = avroType(loadSchema('cost-event'));
  say(`encoding ${MESSAGES + WARMUP} cost events`);
  const messages = Array.from({ length: MESSAGES + WARMUP }, (_, i) => {
    const e = event(i);
    return { key: e.persona_id, value: AvroCodec.encode(schemaId, type, e) };
  });
  const avgBytes = messages.reduce((s, m) => s + m.value.length, 0) / messages.length;
  for (const name of COMPRESSIONS) if (name !== 'none') meter(name);

  const results: Record<string, unknown>[] = [];
  const admin = kafka.admin();
  await admin.connect();
  for (const name of ORDER) {
    if (!COMPRESSIONS.includes(name)) throw new Error(`BENCH_CODECS: unknown codec ${name}; choose from ${COMPRESSIONS.join(', ')}`);
    const topic = `bench.codecs.${runId}.${name}`;
    await ensureTopics(kafka, [{ topic }]);
    const producer = kafka.producer(producerOptions());
    await producer.connect();
    const send = (batch: typeof messages) => producer.sendBatch({ acks: -1, compression: compressionType(name), topicMessages: [{ topic, messages: batch }] });
    for (let i = MESSAGES; i < MESSAGES + WARMUP; i += BATCH) await send(messages.slice(i, Math.min(MESSAGES + WARMUP, i + BATCH)));
    wire.delete(name);
    const batches = Array.from({ length: Math.ceil(MESSAGES / BATCH) }, (_, b) => messages.slice(b * BATCH, Math.min(MESSAGES, (b + 1) * BATCH)));
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (const batch of batches) await send(batch);
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    await producer.disconnect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    const w = wire.get(name);
    const rawBytes = w?.raw ?? NaN;
    const r = {
      codec: name,
      messages: MESSAGES,
      msg_per_s: Math.round(MESSAGES / seconds),
      cpu_us_per_msg: Number(((cpu.user + cpu.system) / MESSAGES).toFixed(2)),
      wire_bytes_per_msg: Number(((w ? w.compressed : rawBytes) / MESSAGES).toFixed(1)),
      compression_ratio: w ? Number((w.raw / w.compressed).toFixed(2)) : 1,
    };
    results.push(r);
    say(JSON.stringify(r));
  }
  await admin.disconnect();
  // 'none' sends the record sets uncompressed: their size is what each codec was handed.
  const none = results.find((r) => r.codec === 'none');
  const handed = [...wire.values()][0]?.raw;
  if (none && handed) none.wire_bytes_per_msg = Number((handed / MESSAGES).toFixed(1));
  process.stdout.write(`${JSON.stringify({ bench: 'codecs', messages: MESSAGES, batch: BATCH, avg_value_bytes: Math.round(avgBytes), results })}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    say(`failed: ${(err as Error).stack ?? err}`);
    process.exit(1);
  },
);
