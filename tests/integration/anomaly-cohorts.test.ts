import type avro from 'avsc';
import { Message, Partitioners, Producer } from 'kafkajs';
import { AnomalyRecord } from '../../consumers/anomaly/types';
import { AvroCodec, avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { topics } from '../../src/config';
import { CostEvent, PostOutcome } from '../../src/events';
import { registry } from '../../src/metrics';

async function metricValues(name: string): Promise<{ labels: Partial<Record<string, string | number>>; value: number }[]> {
  const m = registry.getSingleMetric(name);
  return m ? (await m.get()).values : [];
}
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { waitFor } from '../../testkit/wait-for';
import { AnomalyCollector, costEvent, postOutcome, startAnomaly } from './anomaly-support';

/**
 * Efficiency and ROI when outcomes arrive late, on the real stack. Event time is compressed: 24
 * minutes of simulated traffic (1-minute cohorts, outcomes 30 s–10 min after their post's cost
 * in 1–5 cumulative updates) is published as a backlog and drained in seconds; only the cohort
 * with the efficiency drop matures live, ~60 s after the test starts, so its detection latency
 * is measured against the wall clock.
 */
const MIN = 60_000;
const COHORT = MIN;
const LATENESS = 300;
const TICK = 100;

type Item = { time: number; cost?: CostEvent; outcome?: PostOutcome };

let seed = 7;
// xorshift32: the same timeline on every run.
const rand = () => {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
};

describe('efficiency and ROI per post cohort, with outcomes arriving late (real stack)', () => {
  let env: TestEnv;
  let collector: AnomalyCollector;
  let producer: Producer;
  const p = (name: string) => `${env.id}-${name}`;
  const now = Date.now();
  // The drop cohort ends 11 min before now; the horizon makes it mature 60 s from now.
  const dropEnd = Math.floor((now - 11 * MIN) / COHORT) * COHORT;
  const horizon = now + 60_000 - dropEnd; // 12–13 min: longer than any outcome's delay
  const start = Math.floor((now - 24 * MIN) / COHORT) * COHORT;
  const items: Item[] = [];
  const counts = { posts: 0, costs: 0, outcomes: 0 };
  let clockSetAt = 0;

  /**
   * One post every 15 s per persona, costing ~$0.021; its engagements (~105 per post, ±5 %) and
   * revenue arrive 30 s–10 min later in 1–5 cumulative updates, the last one final when `final`.
   * `share` of the posts report outcomes at all.
   */
  function persona(name: string, o: { share?: number; revenuePerUsd?: number; engagementsFactor?: (postTime: number) => number; final?: boolean } = {}): void {
    const persona = p(name);
    const offset = Math.floor(rand() * 15_000);
    for (let t = start + offset, k = 0; t < now - MIN; t += 15_000, k++) {
      const post = `${persona}-post${k}`;
      const usd = Number((0.02 + rand() * 0.002).toFixed(9));
      items.push({ time: t, cost: costEvent(persona, t, usd.toFixed(9), post) });
      counts.posts++;
      counts.costs += 1;
      if (rand() >= (o.share ?? 1)) continue;
      const total = usd * 5000 * (0.95 + rand() * 0.1) * (o.engagementsFactor?.(t) ?? 1);
      const revenue = usd * (o.revenuePerUsd ?? 1.5);
      const updates = 1 + Math.floor(rand() * 5);
      const delays = Array.from({ length: updates }, () => 30_000 + Math.floor(rand() * 570_000)).sort((x, y) => x - y);
      delays.forEach((delay, j) => {
        const at = t + delay;
        if (at > now) return;
        const share = (j + 1) / updates;
        const last = j === updates - 1;
        items.push({ time: at, outcome: postOutcome(persona, post, at, Math.round(total * share), (revenue * share).toFixed(9), last && (o.final ?? false)) });
        counts.outcomes++;
      });
    }
  }

  beforeAll(async () => {
    env = await createTestEnv('cohorts');
    collector = await new AnomalyCollector(env).start();
    await env.pool.query(
      `INSERT INTO persona_targets (persona_id, target_cost_per_post_usd) SELECT unnest($1::text[]), 1`,
      [['drop', 'roi70', 'roi20', 'silent'].map(p)],
    );
    for (let i = 0; i < 50; i++) persona(`steady${i}`, { final: i % 2 === 0 });
    for (let i = 0; i < 50; i++) persona(`sparse${i}`, { share: 0.2 });
    persona('drop', { engagementsFactor: (t) => (t >= dropEnd - COHORT && t < dropEnd ? 0.6 : 1) });
    persona('roi70', { revenuePerUsd: 0.3, final: true });
    persona('roi20', { revenuePerUsd: 0.8, final: true });
    persona('silent', { share: 0 });

    const t0 = Date.now();
    const phase = (what: string) => process.stdout.write(`${what}: ${Date.now() - t0} ms (${items.length} messages)\n`);
    // Published in event-time order, as a backlog the consumer drains when it starts.
    const t = topics(env.overrides);
    const costType: avro.Type = avroType(loadSchema('cost-event'));
    const outcomeType: avro.Type = avroType(loadSchema('post-outcome'));
    const costId = await env.codec.register(t.costEvents, loadSchema('cost-event'));
    const outcomeId = await env.codec.register(t.postOutcomes, loadSchema('post-outcome'));
    producer = env.kafka.producer({ allowAutoTopicCreation: false, createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    env.cleanup(() => producer.disconnect());
    items.sort((x, y) => x.time - y.time);
    for (let i = 0; i < items.length; i += 4000) {
      const costs: Message[] = [];
      const outcomes: Message[] = [];
      for (const item of items.slice(i, i + 4000)) {
        if (item.cost) costs.push({ key: item.cost.persona_id, value: AvroCodec.encode(costId, costType, item.cost) });
        else if (item.outcome) outcomes.push({ key: item.outcome.persona_id, value: AvroCodec.encode(outcomeId, outcomeType, item.outcome) });
      }
      await producer.sendBatch({ acks: -1, topicMessages: [{ topic: t.costEvents, messages: costs }, { topic: t.postOutcomes, messages: outcomes }] });
    }

    phase('published');
    await startAnomaly(env, {
      ANOMALY_WINDOW_MS: String(MIN),
      ANOMALY_ALLOWED_LATENESS_MS: String(LATENESS),
      ANOMALY_TICK_MS: String(TICK),
      ANOMALY_COHORT_MS: String(COHORT),
      ANOMALY_OUTCOME_HORIZON_MS: String(horizon),
      ANOMALY_BASELINE_COHORTS: '10',
      ANOMALY_MIN_BASELINE_COHORTS: '3',
      ANOMALY_COHORT_MIN_POSTS: '4',
      ANOMALY_COHORT_MIN_ACTIONS: '10',
    });
    phase('consumer started');
    const processed = async () => (await metricValues('finops_anomaly_events_total')).filter((v) => v.labels.outcome === 'processed').reduce((sum, v) => sum + v.value, 0);
    await waitFor(async () => (await processed()) >= counts.costs + counts.outcomes, { timeoutMs: 60_000, what: `the backlog of ${counts.costs + counts.outcomes} messages processed` });
    phase('drained');
    // The drop persona's partition clock now runs on with the wall clock from the present.
    clockSetAt = Date.now();
    await producer.send({ topic: t.costEvents, messages: [{ key: p('drop'), value: AvroCodec.encode(costId, costType, costEvent(p('drop'), clockSetAt, '0.000000001')) }] });
    await new Promise((r) => setTimeout(r, 2500)); // ticks; cohort counters are read every 2 s
  }, 110_000);
  afterAll(() => env.close());

  const ratioAnomalies = (prefix: string) =>
    collector.records.filter((r) => r.persona_id.startsWith(p(prefix)) && (r.anomaly_type === 'efficiency_drop' || r.anomaly_type === 'negative_roi'));
  const describeRecords = (rs: AnomalyRecord[]) => `${rs.length}: ${rs.slice(0, 5).map((r) => `${r.persona_id.slice(env.id.length + 1)} ${r.anomaly_type} ${r.severity} ${r.message}`).join('; ')}`;
  const cohortCount = async (verdict: string) => (await metricValues('finops_anomaly_cohorts_total')).find((v) => v.labels.verdict === verdict)?.value ?? 0;

  it('50 steady personas with outcomes 30 s–10 min late in 1–5 cumulative updates, and 50 reporting for only 20 % of posts: 0 efficiency or ROI anomalies', async () => {
    expect({ steady: describeRecords(ratioAnomalies('steady')), sparse: describeRecords(ratioAnomalies('sparse')) }).toEqual({ steady: '0: ', sparse: '0: ' });
    // Not vacuous: ~9 cohorts per steady persona were judged, and the sparse ones merged until 4 posts had reported
    // (244-277 merges in nine runs, the same code giving 249 and 277).
    expect(await cohortCount('judged')).toBeGreaterThan(50 * 7);
    expect(await cohortCount('merged')).toBeGreaterThan(50 * 4);
  });

  it('ROI of −70 % with late revenue: detected once; −20 %: never; a persona reporting no outcomes is never judged', async () => {
    const roi70 = collector.forPersona(p('roi70'));
    expect(roi70.map((r) => [r.anomaly_type, r.status, r.severity])).toEqual([['negative_roi', 'open', 'medium']]);
    expect(Math.abs(Number(roi70[0].observed) + 70)).toBeLessThan(0.5);
    expect(collector.forPersona(p('roi20'))).toEqual([]);
    expect(collector.forPersona(p('silent'))).toEqual([]);
    expect(await cohortCount('silent')).toBeGreaterThanOrEqual(10);
  });

  it('a 40 % efficiency drop with late outcomes: detected once, medium, within horizon + lateness + tick of its cohort', async () => {
    if (Date.now() < dropEnd + horizon) expect(collector.forPersona(p('drop'))).toEqual([]); // not before the cohort is mature
    const found = await waitFor(() => collector.forPersona(p('drop'))[0], { timeoutMs: 60_000, what: 'the efficiency drop' });
    await new Promise((r) => setTimeout(r, 1500));
    const mine = collector.forPersona(p('drop'));
    expect(mine.map((r) => [r.anomaly_type, r.status, r.severity])).toEqual([['efficiency_drop', 'open', 'medium']]);
    expect(found).toMatchObject({ window_start: new Date(dropEnd - COHORT), window_end: new Date(dropEnd) });
    expect(Number(found.details.drop_percent)).toBeGreaterThan(35);
    expect(Number(found.details.drop_percent)).toBeLessThan(45);
    // Mature at period end + horizon + the allowed lateness, then judged within a tick. (On a machine
    // so loaded that the backlog took longer than that to drain: within a tick of the clock catching up.)
    const detected = found.detected_at.getTime();
    const mature = dropEnd + horizon + LATENESS;
    process.stdout.write(`efficiency drop detected ${detected - (dropEnd + horizon)} ms after its cohort's end + horizon (lateness ${LATENESS} ms, tick ${TICK} ms; backlog drained ${mature - clockSetAt} ms before maturity)\n`);
    expect(detected).toBeGreaterThanOrEqual(mature);
    expect(detected - Math.max(mature, clockSetAt)).toBeLessThanOrEqual(TICK + 700);
    expect(collector.duplicates()).toEqual([]);
  });
});
