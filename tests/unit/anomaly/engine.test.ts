import { parseSnapshot, serializeSnapshot } from '../../../consumers/anomaly/snapshot';
import { AnomalyEngine } from '../../../consumers/anomaly/engine';
import { AnomalyRecord } from '../../../consumers/anomaly/types';
import { usdToNano } from '../../../src/money';
import { anomalySettings } from '../../../consumers/anomaly/settings';
import { cost, outcome, T0, TEST_SETTINGS, testEngine } from './engine-helpers';

/** Feeds one persona $1 per 1 s window for `n` windows starting at T0 (event time = wall time). */
function steady(engine: AnomalyEngine, clock: { now: number }, persona: string, n: number, out: AnomalyRecord[], from = T0): number {
  let t = from;
  for (let i = 0; i < n; i++) {
    clock.now = t + 100;
    engine.onCost(0, cost(persona, t + 100, i % 2 ? '1.1' : '0.9'), clock.now, out);
    t += 1000;
  }
  return t;
}

describe('AnomalyEngine', () => {
  it('reports a spike at the crossing event, escalates the same anomaly, and resolves it once', () => {
    const { engine, clock } = testEngine();
    const out: AnomalyRecord[] = [];
    let t = steady(engine, clock, 'p', 6, out);
    expect(out).toEqual([]);
    // All six windows have closed by t + 200: baseline = upper median of 0.9/1.1 windows = $1.1.
    clock.now = t + 350;
    engine.onCost(0, cost('p', t + 300, '2'), clock.now, out);
    engine.onCost(0, cost('p', t + 310, '0.9'), 12345, out); // $2.9: 2.6×
    expect(out).toEqual([]);
    engine.onCost(0, cost('p', t + 320, '0.4'), 12346, out); // $3.3: exactly 3×
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ status: 'open', sequence: 1, anomaly_type: 'cost_spike', severity: 'medium', observed: '3.300000000', baseline: '1.100000000' });
    expect(out[0].trigger_published_at).toEqual(new Date(12346));
    expect(out[0].triggering_event_ids[0]).toBe(`e${Number(out[0].triggering_event_ids[1].slice(1)) + 1}`);
    engine.onCost(0, cost('p', t + 330, '0.55'), 0, out); // 3.85 = 3.5×
    engine.onCost(0, cost('p', t + 340, '0.01'), 0, out); // still high: no event
    engine.onCost(0, cost('p', t + 350, '1.64'), 0, out); // 5.5 = 5×
    expect(out.map((r) => [r.status, r.sequence, r.severity])).toEqual([['open', 1, 'medium'], ['escalated', 2, 'high'], ['escalated', 3, 'critical']]);
    expect(new Set(out.map((r) => r.anomaly_id)).size).toBe(1);
    // The next window is normal; once it has closed (end + lateness) the spike is resolved, once.
    t += 1000;
    clock.now = t + 100;
    engine.onCost(0, cost('p', t + 100, '1'), 0, out);
    clock.now = t + 1000 + 199;
    engine.tick(out);
    expect(out).toHaveLength(3);
    clock.now = t + 1000 + 200;
    engine.tick(out);
    engine.tick(out);
    expect(out.map((r) => r.status)).toEqual(['open', 'escalated', 'escalated', 'resolved']);
    expect(out[3]).toMatchObject({ sequence: 4, anomaly_id: out[0].anomaly_id });
  });

  it('reports a spike whose events were read before the baseline windows closed, when its window closes', () => {
    const { engine, clock } = testEngine();
    const out: AnomalyRecord[] = [];
    // Outcomes are still being read (a backlog), so the watermark stands still while a backlog of
    // costs streams in: six steady windows, then a window at 5.5×, none of them closed yet.
    engine.setLagging(0, 'outcome', true);
    engine.onOutcome(0, outcome('p', 'post', T0 + 50, 1), 0, out);
    const t = steady(engine, clock, 'p', 6, out);
    clock.now = t + 500;
    for (let i = 0; i < 6; i++) engine.onCost(0, cost('p', t + 100 + i, '1'), 777, out);
    expect(out.filter((r) => r.anomaly_type === 'cost_spike')).toEqual([]);
    // The outcome backlog is read; windows close in order and the spike window is judged as it closes.
    engine.setLagging(0, 'outcome', false);
    clock.now = t + 1000;
    engine.tick(out);
    clock.now = t + 2500;
    engine.tick(out);
    const spikes = out.filter((r) => r.anomaly_type === 'cost_spike');
    expect(spikes).toHaveLength(1);
    expect(spikes[0]).toMatchObject({ status: 'open', severity: 'critical', observed: '6.000000000', baseline: '1.100000000' });
    expect(spikes[0].trigger_published_at).toEqual(new Date(777));
  });

  it('closes the windows of a quiet partition on the wall clock and ignores too-late events for windows', () => {
    const { engine, clock } = testEngine();
    const out: AnomalyRecord[] = [];
    const t = steady(engine, clock, 'q', 6, out);
    expect(engine.stats().openWindows).toBe(2); // the clock is at t - 900: both last windows are within the lateness
    clock.now = t + 500; // the last window [t-1000, t) closes at t + 200
    engine.tick(out);
    expect(engine.stats().openWindows).toBe(0);
    // $10 for a closed window: late, so no spike (but budgets and posts still see it).
    engine.onCost(0, cost('q', t - 500, '10', 'post-late'), 0, out);
    expect(out.filter((r) => r.anomaly_type === 'cost_spike')).toEqual([]);
    expect(engine.stats().lateEvents).toBe(1);
    expect(out.filter((r) => r.anomaly_type === 'post_cost_threshold')).toHaveLength(1);
  });

  it('accepts out-of-order events within the allowed lateness', () => {
    const { engine, clock } = testEngine();
    const out: AnomalyRecord[] = [];
    const t = steady(engine, clock, 'o', 6, out);
    clock.now = t + 150;
    engine.onCost(0, cost('o', t + 150, '1'), 0, out); // the clock is now t + 150; window [t-1000, t) closes at t + 200
    engine.onCost(0, cost('o', t - 10, '3'), 7, out); // out of order, into the previous window: $4.1 ≥ 3 × 1.1
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ anomaly_type: 'cost_spike', window_start: new Date(t - 1000) });
  });

  it('judges efficiency per post cohort: late cumulative outcomes count for their own post; a drop is found when the cohort matures, and resolved by a later clean cohort', () => {
    const { engine, clock, ref } = testEngine();
    ref.targets.set('e', usdToNano('1'));
    const out: AnomalyRecord[] = [];
    // Post i costs $0.1 in cohort i; its outcomes come 1.5 s and 1.9 s later (windows with no cost), cumulative.
    const steps: [number, () => void][] = [];
    for (let i = 0; i < 8; i++) {
      const t = T0 + i * 1000 + 100;
      const eng = i === 5 ? 70 : 100; // cohort 5: exactly −30 %
      steps.push([t, () => engine.onCost(0, cost('e', t, '0.1', `post${i}`), 0, out)]);
      steps.push([t + 1500, () => engine.onOutcome(0, outcome('e', `post${i}`, t + 1500, eng / 2, '0.5'), 0, out)]);
      steps.push([t + 1900, () => engine.onOutcome(0, outcome('e', `post${i}`, t + 1900, eng, '1'), 0, out)]);
    }
    const run = (until: number) => {
      for (const [t, fn] of steps.filter(([at]) => at <= until).sort((a, b) => a[0] - b[0])) {
        clock.now = t;
        fn();
      }
      steps.splice(0, steps.length, ...steps.filter(([at]) => at > until));
    };
    run(T0 + 8199);
    expect(out).toEqual([]); // cohort 5 matures at its end + horizon + lateness = T0 + 8200
    run(T0 + 8200);
    clock.now = T0 + 8200;
    engine.tick(out);
    expect(out.map((r) => [r.anomaly_type, r.status, r.severity])).toEqual([['efficiency_drop', 'open', 'medium']]);
    expect(out[0]).toMatchObject({ unit: 'usd_per_engagement', observed: '0.001428571', baseline: '0.001000000', window_start: new Date(T0 + 5000), window_end: new Date(T0 + 6000) });
    expect(out[0].details).toMatchObject({ cohort_posts: '1', baseline_posts: '5', baseline_cohorts: '5' });
    run(T0 + 20_000);
    clock.now = T0 + 9200;
    engine.tick(out);
    expect(out.map((r) => r.status)).toEqual(['open', 'resolved']);
    expect(engine.stats().cohorts).toMatchObject({ judged: 7, silent: 0 });
  });

  it('a later cumulative outcome replaces the post totals (also downwards); an older one arriving late is ignored', () => {
    const { engine, clock, ref } = testEngine();
    ref.targets.set('r', usdToNano('1'));
    const out: AnomalyRecord[] = [];
    for (let i = 0; i < 6; i++) {
      const t = T0 + i * 1000 + 100;
      clock.now = t;
      engine.onCost(0, cost('r', t, '0.1', `post${i}`), 0, out);
      clock.now = t + 400;
      engine.onOutcome(0, outcome('r', `post${i}`, t + 400, 100, '1'), 0, out);
      if (i === 5) {
        clock.now = t + 800;
        engine.onOutcome(0, outcome('r', `post${i}`, t + 800, 40, '1'), 0, out); // corrected down: −60 %
        engine.onOutcome(0, outcome('r', `post${i}`, t + 600, 100, '1'), 0, out); // older, redelivered: stale
      }
    }
    clock.now = T0 + 8300;
    engine.tick(out);
    expect(out.map((r) => [r.anomaly_type, r.status, r.severity, r.observed])).toEqual([['efficiency_drop', 'open', 'high', '0.002500000']]);
    expect(engine.stats().staleOutcomes).toBe(1);
    expect(engine.posts.get('post5')).toMatchObject({ engagements: 40, outcomeAt: T0 + 5900 });
  });

  it('a cohort whose posts all sent final outcomes is judged as its period ends, without waiting for the horizon', () => {
    const { engine, clock, ref } = testEngine({ ANOMALY_OUTCOME_HORIZON_MS: 3_600_000 });
    ref.targets.set('f', usdToNano('1'));
    const out: AnomalyRecord[] = [];
    for (let i = 0; i < 6; i++) {
      const t = T0 + i * 1000 + 100;
      clock.now = t;
      engine.onCost(0, cost('f', t, '0.1', `post${i}`), 0, out);
      clock.now = t + 300;
      engine.onOutcome(0, outcome('f', `post${i}`, t + 300, i === 5 ? 40 : 100, '1', 0, true), 0, out);
    }
    clock.now = T0 + 6199;
    engine.tick(out);
    expect(out).toEqual([]);
    clock.now = T0 + 6200; // cohort 5 ends at T0 + 6000, + 200 ms lateness
    engine.tick(out);
    expect(out.map((r) => [r.anomaly_type, r.severity])).toEqual([['efficiency_drop', 'high']]);
  });

  it('judges ROI per cohort only after 3 earlier cohorts: −70 % once, −20 % never; a persona without outcomes is never judged', () => {
    const { engine, clock, ref } = testEngine();
    const out: AnomalyRecord[] = [];
    for (const p of ['r70', 'r20', 'silent']) ref.targets.set(p, usdToNano('10'));
    for (let i = 0; i <= 8; i++) {
      const t = T0 + i * 1000 + 100;
      clock.now = t;
      if (i < 8) for (const p of ['r70', 'r20', 'silent']) engine.onCost(0, cost(p, t, '1', `${p}-${i}`), 0, out);
      if (i === 0) continue;
      clock.now = t + 50; // the previous post's revenue arrives in the next window
      engine.onOutcome(0, outcome('r70', `r70-${i - 1}`, t + 50, 100, '0.3'), 0, out);
      engine.onOutcome(0, outcome('r20', `r20-${i - 1}`, t + 50, 100, '0.8'), 0, out);
    }
    clock.now = T0 + 20_000;
    engine.tick(out);
    expect(out.map((r) => [r.persona_id, r.anomaly_type, r.status, r.severity, r.observed])).toEqual([['r70', 'negative_roi', 'open', 'medium', '-70']]);
    expect(out[0].window_start).toEqual(new Date(T0 + 3000)); // cohorts 0–2 are its history; none judged earlier
    expect(engine.stats().cohorts).toMatchObject({ judged: 16, silent: 8 });
  });

  it('merges cohorts with too few posts reporting until there are enough', () => {
    const { engine, clock, ref } = testEngine({ ANOMALY_COHORT_MIN_POSTS: 3, ANOMALY_MIN_BASELINE_COHORTS: 2 });
    ref.targets.set('s', usdToNano('1'));
    const out: AnomalyRecord[] = [];
    for (let i = 0; i < 12; i++) {
      const t = T0 + i * 1000 + 100;
      clock.now = t;
      engine.onCost(0, cost('s', t, '0.1', `post${i}`), 0, out);
      clock.now = t + 500;
      engine.onOutcome(0, outcome('s', `post${i}`, t + 500, i >= 9 ? 50 : 100, '1'), 0, out); // the fourth group: −50 %
    }
    clock.now = T0 + 20_000;
    engine.tick(out);
    expect(engine.stats().cohorts).toMatchObject({ judged: 4, merged: 8 });
    expect(out.map((r) => [r.anomaly_type, r.severity, r.window_start.getTime() - T0, r.window_end.getTime() - T0])).toEqual([['efficiency_drop', 'high', 9000, 12_000]]);
  });

  it('counts an event id once, whatever its event time: budgets, windows and post totals, also across a snapshot', () => {
    const { engine, clock, ref } = testEngine();
    ref.budgets.set('d/monthly', usdToNano('10'));
    ref.targets.set('d', usdToNano('100'));
    const out: AnomalyRecord[] = [];
    const e = cost('d', T0 + 100, '4', 'p');
    clock.now = T0 + 400;
    engine.onCost(0, e, 0, out);
    engine.onCost(0, { ...e, event_time: new Date(T0 + 300) }, 0, out); // a caller's retry a moment later
    const restored = new AnomalyEngine(anomalySettings(TEST_SETTINGS), ref, () => clock.now);
    restored.restorePartition(parseSnapshot(serializeSnapshot(engine.snapshot(0))));
    restored.onCost(0, { ...e, event_time: new Date(Date.UTC(2024, 11, 31, 23, 59, 59)) }, 0, out); // a replay, the month before
    for (const en of [engine, restored]) {
      const persona = en.partitions.get(0)!.personas.get('d')!;
      expect({ month: persona.monthSpend, window: persona.open[0].cost, post: en.posts.get('p')!.cost }).toEqual({ month: usdToNano('4'), window: usdToNano('4'), post: usdToNano('4') });
    }
    expect(engine.stats().duplicateEvents + restored.stats().duplicateEvents).toBe(2);
    restored.onCost(0, cost('d', T0 + 500, '4', 'p'), 0, out); // another event: 80 % of the budget
    expect(out.map((r) => [r.anomaly_type, r.observed])).toEqual([['budget_threshold', '8.000000000']]);
  });

  it('reports budget use at 80 %, escalates at 90 %, and resolves when the budget is raised', () => {
    const { engine, clock, ref } = testEngine();
    ref.budgets.set('b/daily', usdToNano('10'));
    const out: AnomalyRecord[] = [];
    clock.now = T0;
    engine.onCost(0, cost('b', T0, '7.999999999'), 0, out);
    expect(out).toEqual([]);
    engine.onCost(0, cost('b', T0 + 1, '0.000000001'), 0, out);
    engine.onCost(0, cost('b', T0 + 2, '0.5'), 0, out);
    engine.onCost(0, cost('b', T0 + 3, '0.5'), 0, out);
    expect(out.map((r) => [r.anomaly_type, r.status, r.severity, r.observed])).toEqual([
      ['budget_threshold', 'open', 'medium', '8.000000000'],
      ['budget_threshold', 'escalated', 'high', '9.000000000'],
    ]);
    expect(out[0].window_start).toEqual(new Date(Date.UTC(2025, 0, 15)));
    ref.budgets.set('b/daily', usdToNano('100'));
    engine.onReferenceChanged(out);
    expect(out.map((r) => r.status)).toEqual(['open', 'escalated', 'resolved']);
    // Crossed again in the same day (a lowered budget): a new anomaly, with a new id.
    ref.budgets.set('b/daily', usdToNano('11'));
    engine.onCost(0, cost('b', T0 + 4, '0.01'), 0, out);
    expect(out.map((r) => [r.status, r.sequence])).toEqual([['open', 1], ['escalated', 2], ['resolved', 3], ['open', 1]]);
    expect(out[3].anomaly_id).not.toBe(out[0].anomaly_id);
  });

  it('flags a post costing more than 2× its target once, and resolves it when the post goes idle', () => {
    const { engine, clock, ref } = testEngine();
    ref.targets.set('pp', usdToNano('0.05'));
    const out: AnomalyRecord[] = [];
    clock.now = T0;
    engine.onCost(0, cost('pp', T0, '0.1', 'x'), 0, out);
    expect(out).toEqual([]);
    engine.onCost(0, cost('pp', T0 + 1, '0.000000001', 'x'), 0, out);
    engine.onCost(0, cost('pp', T0 + 2, '0.01', 'x'), 0, out);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatchObject({ anomaly_type: 'post_cost_threshold', post_id: 'x', severity: 'medium', threshold: '0.100000000' });
    clock.now = T0 + 61_000;
    engine.tick(out);
    expect(out.map((r) => r.status)).toEqual(['open', 'resolved']);
    expect(engine.stats().posts).toBe(0);
  });

  it('keeps apart a post id reused by another persona, also across a snapshot', () => {
    const { engine, clock, ref } = testEngine();
    ref.targets.set('a', usdToNano('0.05'));
    ref.targets.set('b', usdToNano('0.05'));
    const out: AnomalyRecord[] = [];
    clock.now = T0;
    engine.onCost(0, cost('a', T0, '0.06', 'same'), 0, out);
    engine.onCost(0, cost('b', T0, '0.06', 'same'), 0, out);
    expect(out).toEqual([]); // $0.06 each, not $0.12 together
    const next = testEngine();
    next.ref.targets = ref.targets;
    const restored = next.engine;
    (restored as unknown as { wallNow: () => number }).wallNow = () => clock.now;
    restored.restorePartition(parseSnapshot(serializeSnapshot(engine.snapshot(0))));
    restored.onCost(0, cost('b', T0 + 1, '0.05', 'same'), 0, out); // b: $0.11 > 2 × $0.05
    expect(out.map((r) => [r.persona_id, r.post_id, r.observed])).toEqual([['b', 'same', '0.110000000']]);
    restored.onCost(0, cost('a', T0 + 2, '0.01', 'same'), 0, out); // a: $0.07
    expect(out).toHaveLength(1);
    expect(restored.stats().posts).toBe(2);
  });

  it('keeps state bounded: idle personas and the least recent posts beyond the bound are evicted', () => {
    const { engine, clock } = testEngine({ ANOMALY_MAX_POSTS: 100 });
    const out: AnomalyRecord[] = [];
    clock.now = T0;
    for (let i = 0; i < 1000; i++) engine.onCost(0, cost(`persona${i % 50}`, T0, '0.001', `post${i}`), 0, out);
    engine.tick(out);
    expect(engine.stats().posts).toBe(100);
    clock.now = T0 + 61_500;
    engine.tick(out);
    expect(engine.stats()).toMatchObject({ personas: 0, posts: 0 });
  });

  it('restored from a serialized snapshot, continues exactly as an uninterrupted engine', () => {
    const run = (restoreAt: number | null) => {
      const { engine, clock, ref } = testEngine();
      ref.targets.set('s', usdToNano('100'));
      let e = engine;
      const out: AnomalyRecord[] = [];
      let t = T0;
      for (let i = 0; i < 12; i++) {
        if (i === restoreAt) {
          const text = serializeSnapshot(e.snapshot(0));
          const next = testEngine();
          next.ref.targets.set('s', usdToNano('100'));
          e = next.engine;
          (e as unknown as { wallNow: () => number }).wallNow = () => clock.now;
          e.restorePartition(parseSnapshot(text));
        }
        clock.now = t + 100;
        const spend = i === 8 ? '5' : '1';
        e.onCost(0, cost('s', t + 100, spend, `post${i % 3}`), i, out);
        e.onCost(0, cost('s', t + 150, '0.1', `q${i}`), i, out);
        clock.now = t + 200;
        if (i > 0) e.onOutcome(0, outcome('s', `q${i - 1}`, t + 200, i - 1 === 6 ? 40 : 100, '0.01'), i, out); // late; cohort 6: −60 %
        t += 1000;
      }
      clock.now = t + 2500;
      e.tick(out);
      return out.map((r) => [r.anomaly_id, r.anomaly_type, r.sequence, r.status, r.severity, r.observed]);
    };
    const straight = run(null);
    expect(straight.length).toBeGreaterThanOrEqual(3);
    expect(straight.map((r) => r[1])).toEqual(expect.arrayContaining(['cost_spike', 'efficiency_drop', 'negative_roi']));
    expect(run(5)).toEqual(straight);
    expect(run(9)).toEqual(straight);
  });
});
