import { CostTracker } from '../../producers';
import { TestEnv } from '../../testkit/fixtures';
import { waitFor } from '../../testkit/wait-for';
import { AnomalyCollector, anomalyTestEnv, spawnAnomalyProcess, Timeline } from './anomaly-support';

const W = 2000;

describe('anomaly consumer killed (SIGKILL) and restarted mid-scenario', () => {
  let env: TestEnv;
  let tracker: CostTracker;
  let collector: AnomalyCollector;
  const p = (name: string) => `${env.id}-${name}`;

  beforeAll(async () => {
    ({ env, tracker, collector } = await anomalyTestEnv('anomrestart'));
  });
  afterAll(() => env.close());

  async function publish(tl: Timeline): Promise<void> {
    for (const item of tl.sorted()) if (item.cost) void tracker.publishEvent(item.cost);
    await tracker.flush();
  }

  it('misses nothing and reports nothing twice', async () => {
    const B = Math.floor((Date.now() - 120_000) / W) * W;
    const phase1 = new Timeline();
    for (let h = 0; h < 8; h++) for (const name of ['a', 'b']) for (let k = 0; k < 10; k++) phase1.cost(p(name), B + h * W + 50 + k * 30, '0.1');
    for (let k = 0; k < 50; k++) phase1.cost(p('a'), B + 8 * W + 50 + k * 30, '0.1'); // 5× → critical
    await publish(phase1);

    // A long checkpoint interval makes the kill land after the detection but before a checkpoint
    // covering it, so the restarted consumer replays those events and must not publish again.
    const first = spawnAnomalyProcess(env, { ANOMALY_CHECKPOINT_INTERVAL_MS: '4000' });
    await first.running;
    await waitFor(() => collector.forPersona(p('a')).some((r) => r.severity === 'critical'), { timeoutMs: 60_000, what: 'spike of a' });
    await first.kill('SIGKILL');

    // While it is down: b spikes 3.5× and a post of c goes over 2× its target.
    const phase2 = new Timeline();
    for (let k = 0; k < 35; k++) phase2.cost(p('b'), B + 20 * W + 50 + k * 30, '0.1');
    for (let k = 0; k < 3; k++) phase2.cost(p('c'), B + 20 * W + 100 + k * 30, '0.015', `${p('c')}-post`);
    await publish(phase2);

    const second = spawnAnomalyProcess(env, { ANOMALY_CHECKPOINT_INTERVAL_MS: '500' });
    await second.running;
    await waitFor(
      () =>
        collector.forPersona(p('b')).some((r) => r.severity === 'high') &&
        collector.forPersona(p('c')).some((r) => r.anomaly_type === 'post_cost_threshold') &&
        collector.forPersona(p('a')).some((r) => r.status === 'resolved') &&
        collector.forPersona(p('b')).some((r) => r.status === 'resolved'),
      { timeoutMs: 90_000, what: 'detections and resolutions after the restart' },
    );
    // Give a replayed duplicate every chance to show up before judging.
    const { rows } = await waitFor(async () => {
      const r = await env.pool.query('SELECT partition, cost_offset FROM anomaly_checkpoints WHERE group_id = $1 AND cost_offset > 0', [`test.${env.id}.anomaly`]);
      return r.rows.length ? r : null;
    }, { what: 'a checkpoint from the second process' });
    expect(rows.length).toBeGreaterThan(0);

    expect(collector.duplicates()).toEqual([]);
    const a = collector.forPersona(p('a'));
    expect(a.map((r) => [r.sequence, r.status, r.severity])).toEqual([[1, 'open', 'medium'], [2, 'escalated', 'high'], [3, 'escalated', 'critical'], [4, 'resolved', 'critical']]);
    const b = collector.forPersona(p('b'));
    expect(b.map((r) => [r.sequence, r.status, r.severity])).toEqual([[1, 'open', 'medium'], [2, 'escalated', 'high'], [3, 'resolved', 'high']]);
    expect(collector.forPersona(p('c')).map((r) => [r.anomaly_type, r.status, r.severity])).toEqual([['post_cost_threshold', 'open', 'medium']]);
    const stored = await env.pool.query('SELECT persona_id, sequence, status FROM cost_anomalies WHERE persona_id = ANY($1) ORDER BY persona_id', [[p('a'), p('b'), p('c')]]);
    expect(stored.rows).toEqual([
      { persona_id: p('a'), sequence: 4, status: 'resolved' },
      { persona_id: p('b'), sequence: 3, status: 'resolved' },
      { persona_id: p('c'), sequence: 1, status: 'open' },
    ]);
    await second.kill('SIGTERM');
  });
});
