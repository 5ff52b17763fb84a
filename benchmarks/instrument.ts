/**
 * Overhead of instrument(): the same chat completions through a plain openai client and through
 * instrumented ones, against the local provider server (testkit/llm-provider-server.ts) running in
 * a child process, so the CPU measured (process.cpuUsage, user + system) is the caller's only.
 *
 * Variants, run in interleaved rounds (each starting with another variant) so drift hits all alike:
 *  - plain: `new OpenAI()`;
 *  - wrapper: instrument(client, { guard: false }) with a tracker that does nothing: the wrapper's own cost;
 *  - guarded: the wrapper with a real CostGuard on Redis (no control in force, the common case)
 *    and a real CostTracker publishing to a fresh topic on the local broker: what a service pays;
 *  - plain_in_memory and wrapper_in_memory: the first two with a `fetch` that answers in-process
 *    (same bodies, no HTTP, no server), so the wrapper's cost is not lost in the HTTP stack's noise.
 * Each variant makes BENCH_INSTRUMENT_CALLS calls (default 4,000) a round, BENCH_INSTRUMENT_IN_FLIGHT
 * (default 8) at a time, half of them streamed. Run it under the shared lock:
 *   flock /tmp/finops-bench.lock npm run bench:instrument
 * The last line printed is one JSON object with the figures.
 */
import { fork } from 'node:child_process';
import OpenAI from 'openai';
import { CostGuard, CostTracker, instrument } from '../producers';
import { Overrides } from '../src/config';
import { createKafka, ensureTopics, pipelineTopicSpecs } from '../src/kafka/client';
import { DEFAULT_USAGE, LlmProviderServer, providerAnswer } from '../testkit/llm-provider-server';

const CALLS = Number(process.env.BENCH_INSTRUMENT_CALLS ?? 4000);
const IN_FLIGHT = Number(process.env.BENCH_INSTRUMENT_IN_FLIGHT ?? 8);
const ROUNDS = Number(process.env.BENCH_INSTRUMENT_ROUNDS ?? 3);
const say = (msg: string) => process.stderr.write(`[bench:instrument] ${msg}\n`);

async function serve(): Promise<void> {
  const server = await new LlmProviderServer().start();
  server.maxRecorded = 0;
  process.send!({ port: server.port });
  process.on('disconnect', () => void server.close().then(() => process.exit(0)));
}

function startServer(): Promise<{ baseURL: string; stop: () => void }> {
  const child = fork(__filename, ['--serve'], { execArgv: process.execArgv, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (m: { port: number }) => resolve({ baseURL: `http://127.0.0.1:${m.port}/v1`, stop: () => child.disconnect() }));
  });
}

interface Figures {
  calls: number;
  seconds: number;
  cpuUs: number;
}

async function run(client: OpenAI, calls: number): Promise<Figures> {
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const worker = async () => {
    while (next < calls) {
      const i = next++;
      if (i % 2 === 0) {
        const c = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `call ${i}` }] });
        if (!c.choices.length) throw new Error('empty completion');
      } else {
        const stream = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `call ${i}` }], stream: true });
        for await (const chunk of stream) if (!chunk.choices.length) throw new Error('usage chunk passed on');
      }
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { calls, seconds, cpuUs: cpu.user + cpu.system };
}

async function main(): Promise<void> {
  const server = await startServer();
  const id = `${Date.now().toString(36)}`;
  const overrides: Overrides = { TOPIC_COST_EVENTS: `bench.instrument.${id}.cost-events`, TOPIC_POST_OUTCOMES: `bench.instrument.${id}.post-outcomes`, KAFKA_CLIENT_ID: `bench-instrument-${id}` };
  const kafka = createKafka(overrides, 'bench');
  const specs = pipelineTopicSpecs(overrides).filter((s) => s.topic === overrides.TOPIC_COST_EVENTS || s.topic === overrides.TOPIC_POST_OUTCOMES);
  await ensureTopics(kafka, specs, overrides);
  const tracker = new CostTracker({ overrides });
  await tracker.start();
  const guard = await new CostGuard().start();
  let tracked = 0;
  const nothing = { trackOpenAICost: () => Promise.resolve({} as never) };
  const base = () => new OpenAI({ apiKey: 'bench', baseURL: server.baseURL, maxRetries: 0 });
  let seq = 0;
  const inMemoryFetch = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const answer = providerAnswer(new URL(String(url)).pathname, JSON.parse(String(init?.body ?? '{}')), DEFAULT_USAGE, String(++seq));
    return new Response(answer.text, { status: answer.status, headers: answer.headers });
  };
  const inMemory = () => new OpenAI({ apiKey: 'bench', baseURL: 'http://in-memory.invalid/v1', maxRetries: 0, fetch: inMemoryFetch });
  const variants: Record<string, OpenAI> = {
    plain: base(),
    wrapper: instrument(base(), { personaId: `bench-${id}`, tracker: nothing, guard: false }),
    guarded: instrument(base(), { personaId: `bench-${id}`, tracker, guard, onTracked: () => void tracked++ }),
    plain_in_memory: inMemory(),
    wrapper_in_memory: instrument(inMemory(), { personaId: `bench-${id}`, tracker: nothing, guard: false }),
  };
  for (const client of Object.values(variants)) await run(client, 500); // warm-up: connections, JIT, price look-ups
  await tracker.flush();
  tracked = 0;
  const totals: Record<string, Figures> = {};
  for (let round = 1; round <= ROUNDS; round++) {
    const names = Object.keys(variants);
    const order = [...names.slice(round % names.length), ...names.slice(0, round % names.length)]; // each round starts with another variant
    for (const name of order) {
      const client = variants[name];
      const f = await run(client, CALLS);
      const t = (totals[name] ??= { calls: 0, seconds: 0, cpuUs: 0 });
      t.calls += f.calls;
      t.seconds += f.seconds;
      t.cpuUs += f.cpuUs;
      say(`round ${round} ${name}: ${Math.round(f.calls / f.seconds)} calls/s, ${(f.cpuUs / f.calls).toFixed(1)} µs CPU a call`);
    }
  }
  await tracker.flush();
  const expectedTracked = CALLS * ROUNDS;
  await tracker.close();
  await guard.close();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: specs.map((s) => s.topic) }).catch(() => undefined);
  await admin.disconnect();
  server.stop();

  const perCall = (n: string) => totals[n].cpuUs / totals[n].calls;
  const rate = (n: string) => Math.round(totals[n].calls / totals[n].seconds);
  const r1 = (x: number) => Math.round(x * 10) / 10;
  process.stdout.write(
    `${JSON.stringify({
      calls_per_variant: CALLS * ROUNDS,
      in_flight: IN_FLIGHT,
      streamed_share: 0.5,
      plain_calls_per_s: rate('plain'),
      plain_cpu_us_per_call: r1(perCall('plain')),
      wrapper_calls_per_s: rate('wrapper'),
      wrapper_cpu_us_per_call: r1(perCall('wrapper')),
      wrapper_overhead_cpu_us_per_call: r1(perCall('wrapper') - perCall('plain')),
      guarded_calls_per_s: rate('guarded'),
      guarded_cpu_us_per_call: r1(perCall('guarded')),
      guarded_overhead_cpu_us_per_call: r1(perCall('guarded') - perCall('plain')),
      plain_in_memory_calls_per_s: rate('plain_in_memory'),
      plain_in_memory_cpu_us_per_call: r1(perCall('plain_in_memory')),
      wrapper_in_memory_calls_per_s: rate('wrapper_in_memory'),
      wrapper_in_memory_cpu_us_per_call: r1(perCall('wrapper_in_memory')),
      wrapper_in_memory_overhead_cpu_us_per_call: r1(perCall('wrapper_in_memory') - perCall('plain_in_memory')),
      tracked_events: tracked,
      tracked_expected: expectedTracked,
    })}\n`,
  );
}

if (process.argv.includes('--serve')) void serve();
else
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
