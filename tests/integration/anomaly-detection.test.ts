import { CostTracker } from '../../producers';
import { AnomalyRecord } from '../../consumers/anomaly/types';
import { topics } from '../../src/config';
import { TestEnv } from '../../testkit/fixtures';
import { waitFor } from '../../testkit/wait-for';
import { AnomalyCollector, anomalyTestEnv, startAnomaly, Timeline } from './anomaly-support';

const W = 2000;

describe('anomaly consumer on the real stack: each scenario detected once, with the right type and severity', () => {
  let env: TestEnv;
  let tracker: CostTracker;
  let collector: AnomalyCollector;
  const p = (name: string) => `${env.id}-${name}`;

  beforeAll(async () => {
    ({ env, tracker, collector } = await anomalyTestEnv('anomaly'));
  });
  afterAll(() => env.close());

  it('detects spikes, an efficiency drop, negative ROI, 80 % of a budget and an expensive post; steady noise raises nothing', async () => {
    await env.pool.query(`INSERT INTO budgets (persona_id, period, limit_usd) VALUES ($1, 'daily', 10)`, [p('budget')]);
    await env.pool.query(`INSERT INTO persona_targets (persona_id, target_cost_per_post_usd) VALUES ($1, 100), ($2, 100)`, [p('eff'), p('roi')]);

    // Eight baseline windows (h = 0..7), the scenario window S (h = 8) and a normal window (h = 9), in the recent past.
    const B = Math.floor((Date.now() - 90_000) / W) * W;
    const at = (h: number, k: number) => B + h * W + 50 + k * 100; // k = 0..17 stays inside the window
    const tl = new Timeline();
    const noisy = [0.8, 1.2, 1.05, 0.95, 1.3, 0.7, 1.1, 0.9, 1.15, 0.85];
    for (let h = 0; h < 10; h++) {
      const spikeSpend = h === 8 ? { spike3: 30, spike35: 35, spike5: 50 } : { spike3: 10, spike35: 10, spike5: 10 };
      // Steady but noisy: ±30 % between windows, uneven events.
      for (let k = 0; k < 5; k++) tl.cost(p('steady'), at(h, k), ((noisy[h] * (k + 1)) / 15).toFixed(9));
      // Spikes: $1 per window (ten $0.10 events), then 3×, 3.5× and 5× in window S.
      for (const [name, n] of Object.entries(spikeSpend)) for (let k = 0; k < n; k++) tl.cost(p(name), B + h * W + 50 + k * 30, '0.1');
      // Efficiency: $1 per window earning 100 engagements; window S earns 60 (−40 %).
      const effPost = `${p('eff')}-post${h}`;
      for (let k = 0; k < 10; k++) tl.cost(p('eff'), at(h, k), '0.1', effPost);
      tl.outcome(p('eff'), effPost, at(h, 12), h === 8 ? 60 : 100, '2');
      // ROI: every window spends $1 and earns $0.40 (−60 %).
      const roiPost = `${p('roi')}-post${h}`;
      tl.cost(p('roi'), at(h, 1), '1', roiPost);
      tl.outcome(p('roi'), roiPost, at(h, 3), 5, '0.4');
    }
    // Budget: $10 a day; eight $1 costs in window S reach exactly 80 %.
    for (let k = 0; k < 8; k++) tl.cost(p('budget'), at(8, k), '1');
    // Expensive post: four $0.01 costs (exactly 2× the $0.02 target: not more) then one nano-dollar more.
    for (let k = 0; k < 4; k++) tl.cost(p('post'), at(8, k), '0.01', `${p('post')}-x`);
    const crossing = tl.cost(p('post'), at(8, 5), '0.000000001', `${p('post')}-x`);

    for (const item of tl.sorted()) {
      if (item.cost) void tracker.publishEvent(item.cost);
      else if (item.outcome) void tracker.trackOutcome({ postId: item.outcome.post_id, personaId: item.outcome.persona_id, occurredAt: item.outcome.occurred_at, engagements: item.outcome.engagements, revenueUsd: formatRevenue(item.outcome.revenue) });
    }
    await tracker.flush();
    // A poison message among them is dead-lettered and the consumer keeps going.
    const producer = env.kafka.producer();
    await producer.connect();
    await producer.send({ topic: topics(env.overrides).costEvents, messages: [{ key: p('steady'), value: Buffer.from('not avro at all') }] });
    await producer.disconnect();

    await startAnomaly(env);

    const expected: [string, AnomalyRecord['anomaly_type'], AnomalyRecord['severity']][] = [
      ['spike3', 'cost_spike', 'medium'],
      ['spike35', 'cost_spike', 'high'],
      ['spike5', 'cost_spike', 'critical'],
      ['eff', 'efficiency_drop', 'medium'],
      ['roi', 'negative_roi', 'medium'],
      ['budget', 'budget_threshold', 'medium'],
      ['post', 'post_cost_threshold', 'medium'],
    ];
    const worst = (rs: AnomalyRecord[]) => rs.filter((r) => r.status !== 'resolved').sort((a, b) => b.sequence - a.sequence)[0]?.severity;
    const summary = () => collector.records.map((r) => `${r.persona_id.slice(env.id.length + 1)}:${r.anomaly_type}:${r.status}:${r.severity}:${r.sequence}`).join(', ');
    await waitFor(() => expected.every(([name, type, severity]) => worst(collector.forPersona(p(name)).filter((r) => r.anomaly_type === type)) === severity), {
      timeoutMs: 30_000,
      what: 'every scenario detected at its severity',
    }).catch((err) => {
      throw new Error(`${(err as Error).message}; published: ${summary()}`);
    });
    // Spikes and the efficiency drop clear once the normal window after S has closed.
    await waitFor(() => ['spike3', 'spike35', 'spike5', 'eff'].every((name) => collector.forPersona(p(name)).some((r) => r.status === 'resolved')), {
      timeoutMs: 20_000,
      what: 'resolutions',
    });

    for (const [name, type, severity] of expected) {
      const mine = collector.forPersona(p(name));
      expect({ name, types: [...new Set(mine.map((r) => r.anomaly_type))] }).toEqual({ name, types: [type] });
      const opens = mine.filter((r) => r.status === 'open');
      expect({ name, opens: opens.length }).toEqual({ name, opens: 1 });
      expect(new Set(mine.map((r) => r.anomaly_id)).size).toBe(1);
      expect(mine.map((r) => r.sequence)).toEqual(mine.map((_, i) => i + 1));
      const row = (await env.pool.query('SELECT * FROM cost_anomalies WHERE anomaly_id = $1', [opens[0].anomaly_id])).rows[0];
      expect(row).toMatchObject({ persona_id: p(name), anomaly_type: type, sequence: mine[mine.length - 1].sequence, status: mine[mine.length - 1].status });
      expect({ name, severity: worst(mine) ?? mine[mine.length - 1].severity }).toEqual({ name, severity });
    }
    expect(collector.forPersona(p('steady'))).toEqual([]);
    expect(collector.duplicates()).toEqual([]);

    const spike3 = collector.forPersona(p('spike3'))[0];
    expect(spike3).toMatchObject({ observed: '3.000000000', baseline: '1.000000000', threshold: '3', multiplier: 3, window_start: new Date(B + 8 * W), window_end: new Date(B + 9 * W) });
    expect(spike3.triggering_event_ids.length).toBeGreaterThan(0);
    expect(spike3.trigger_published_at).toBeInstanceOf(Date);
    const post = collector.forPersona(p('post'))[0];
    expect(post).toMatchObject({ post_id: `${p('post')}-x`, observed: '0.040000001', threshold: '0.040000000', triggering_event_ids: [crossing.event_id] });
    expect(collector.forPersona(p('budget'))[0]).toMatchObject({ observed: '8.000000000', baseline: '10.000000000', threshold: '8.000000000' });

    const dl = await waitFor(async () => (await env.pool.query('SELECT reason FROM dead_letters WHERE consumer_group = $1', [`test.${env.id}.anomaly`])).rows[0], { what: 'dead letter' });
    expect(dl.reason).toBe('avro.bad_magic_byte');
  });
});

function formatRevenue(nano: bigint): string {
  const s = nano.toString().padStart(10, '0');
  return `${s.slice(0, -9)}.${s.slice(-9)}`;
}
