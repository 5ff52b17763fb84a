import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import type avro from 'avsc';
import { Consumer } from 'kafkajs';
import { AnomalyRecord } from '../../consumers/anomaly/types';
import { anomalyRole } from '../../consumers/anomaly';
import { AvroCodec, avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { topics } from '../../src/config';
import { CostEvent, PostOutcome } from '../../src/events';
import { OpsServer } from '../../src/http/ops-server';
import { usdToNano } from '../../src/money';
import { Role } from '../../src/roles';
import { CostTracker } from '../../producers';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { trackerFor } from '../../testkit/in-process';

/** Small windows so a scenario takes seconds: 2 s windows, 300 ms lateness, 3-window baselines. */
export const FAST_ANOMALY_SETTINGS = {
  ANOMALY_WINDOW_MS: '2000',
  ANOMALY_ALLOWED_LATENESS_MS: '300',
  ANOMALY_BASELINE_WINDOWS: '10',
  ANOMALY_MIN_BASELINE_WINDOWS: '3',
  // Cohorts (efficiency, ROI) of one window, mature 1 s after their period; one post with outcomes is enough.
  ANOMALY_COHORT_MS: '2000',
  ANOMALY_OUTCOME_HORIZON_MS: '1000',
  ANOMALY_MIN_BASELINE_COHORTS: '3',
  ANOMALY_COHORT_MIN_POSTS: '1',
  ANOMALY_TICK_MS: '100',
  ANOMALY_CHECKPOINT_INTERVAL_MS: '500',
  ANOMALY_REFERENCE_REFRESH_MS: '300',
};

export async function startAnomaly(env: TestEnv, extra: Record<string, string> = {}): Promise<Role> {
  const role = anomalyRole({ overrides: { ...env.overrides, ...FAST_ANOMALY_SETTINGS, ...extra }, ops: new OpsServer() });
  await role.start();
  env.cleanup(() => role.stop());
  return role;
}

export function costEvent(persona: string, time: number, usd: string, post: string | null = null): CostEvent {
  return {
    event_id: randomUUID(), event_time: new Date(time), cost_type: 'openai_api', amount: usdToNano(usd), currency: 'USD',
    persona_id: persona, post_id: post, operation: 'test', service: 'anomaly-test', correlation_id: null, request_id: null,
    llm_usage: null, compute_usage: null, vector_db_usage: null, price: { source: 'test', version: '1', status: 'priced', unit_prices: {} }, metadata: {},
  };
}

export function postOutcome(persona: string, post: string, time: number, engagements: number, revenueUsd: string, final = false): PostOutcome {
  return {
    event_id: randomUUID(), post_id: post, persona_id: persona, occurred_at: new Date(time), follows: 0, engagements, revenue: usdToNano(revenueUsd), currency: 'USD', is_final: final,
  };
}

/** A test env with an SDK tracker and a collector of the anomaly states published on it. */
export async function anomalyTestEnv(name: string): Promise<{ env: TestEnv; tracker: CostTracker; collector: AnomalyCollector }> {
  const env = await createTestEnv(name);
  return { env, tracker: trackerFor(env), collector: await new AnomalyCollector(env).start() };
}

/** Reads every anomaly state published on the env's anomalies topic. */
export class AnomalyCollector {
  readonly records: AnomalyRecord[] = [];
  private consumer: Consumer | undefined;
  private readonly type: avro.Type = avroType(loadSchema('cost-anomaly'));

  constructor(private readonly env: TestEnv) {}

  async start(): Promise<this> {
    const codec = new AvroCodec((this.env.codec as AvroCodec).registryUrl);
    this.consumer = this.env.kafka.consumer({ groupId: `test.${this.env.id}.collector.${randomUUID()}`, maxWaitTimeInMs: 50 });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [topics(this.env.overrides).costAnomalies], fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        this.records.push((await codec.decode<AnomalyRecord>(message.value, this.type)).value);
      },
    });
    this.env.cleanup(() => this.consumer?.disconnect());
    return this;
  }

  forPersona(persona: string): AnomalyRecord[] {
    return this.records.filter((r) => r.persona_id === persona);
  }

  /** (anomaly_id, sequence) pairs seen more than once. */
  duplicates(): string[] {
    const seen = new Map<string, number>();
    for (const r of this.records) seen.set(`${r.anomaly_id}#${r.sequence}`, (seen.get(`${r.anomaly_id}#${r.sequence}`) ?? 0) + 1);
    return [...seen].filter(([, n]) => n > 1).map(([k]) => k);
  }
}

type Item = { time: number; cost?: CostEvent; outcome?: PostOutcome };

/**
 * A scripted timeline of costs and outcomes for several personas, published in event-time
 * order (a partition's clock follows the largest event time it has seen).
 */
export class Timeline {
  readonly items: Item[] = [];
  cost(persona: string, time: number, usd: string, post: string | null = null): CostEvent {
    const e = costEvent(persona, time, usd, post);
    this.items.push({ time, cost: e });
    return e;
  }
  outcome(persona: string, post: string, time: number, engagements: number, revenueUsd: string): void {
    this.items.push({ time, outcome: postOutcome(persona, post, time, engagements, revenueUsd) });
  }
  sorted(): Item[] {
    return [...this.items].sort((a, b) => a.time - b.time);
  }
}

export interface AnomalyProcess {
  child: ChildProcess;
  /** Resolves once the role logged that it is running. */
  running: Promise<void>;
  exited: Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

/** Runs `finops run anomaly` as its own Node process, so a test can SIGKILL it mid-scenario. */
export function spawnAnomalyProcess(env: TestEnv, extra: Record<string, string> = {}): AnomalyProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, METRICS_PORT: '0', LOG_LEVEL: 'info' };
  delete childEnv.JEST_WORKER_ID;
  const settings = { ...env.overrides, ...FAST_ANOMALY_SETTINGS, ...extra };
  for (const [k, v] of Object.entries(settings)) childEnv[k] = String(v);
  const root = path.resolve(__dirname, '../..');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'app/cli.ts'), 'run', 'anomaly'], { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)));
  const running = new Promise<void>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      if (buffered.includes('"msg":"running"')) resolve();
      buffered = buffered.slice(-2000);
    });
    void exited.then((code) => reject(new Error(`anomaly process exited with ${code} before running: ${stderr}`)));
  });
  running.catch(() => undefined);
  const proc: AnomalyProcess = {
    child,
    running,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  env.cleanup(() => proc.kill('SIGTERM'));
  return proc;
}
