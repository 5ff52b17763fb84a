import { AnomalyInput, BreakerConfig, BreakerState, isTrigger, step, StepResult, toControl } from '../../consumers/breaker/state-machine';
import { defaultBreakerConfig } from '../../consumers/breaker/settings';

const cfg: BreakerConfig = { ...defaultBreakerConfig, escalateMinIntervalMs: 1000, cooldownMs: 60_000, probeMs: 30_000, pauseMs: 3_600_000 };
const T0 = Date.parse('2025-01-01T00:00:00Z');

function spike(id: string, seq = 1, extra: Partial<AnomalyInput> = {}): AnomalyInput {
  return { anomaly_id: id, sequence: seq, status: seq === 1 ? 'open' : 'escalated', anomaly_type: 'cost_spike', severity: 'high', observed: '0.067', baseline: '0.020', unit: 'usd', multiplier: 3.35, ...extra } as AnomalyInput;
}

function run(inputs: Array<(s: BreakerState | null) => StepResult>): { state: BreakerState | null; results: StepResult[] } {
  let state: BreakerState | null = null;
  const results: StepResult[] = [];
  for (const f of inputs) {
    const r = f(state);
    results.push(r);
    state = r.state;
  }
  return { state, results };
}

const anomaly = (a: AnomalyInput, now: number) => (s: BreakerState | null) => step(s, 'p1', { kind: 'anomaly', anomaly: a, now }, cfg);
const tick = (now: number) => (s: BreakerState | null) => step(s, 'p1', { kind: 'tick', now }, cfg);

describe('breaker triggers (seed thresholds)', () => {
  it.each([
    [spike('a', 1, { multiplier: 3 }), true],
    [spike('a', 1, { multiplier: 2.99, severity: 'medium' }), false],
    [spike('a', 1, { multiplier: 2, severity: 'critical' }), true],
    [{ ...spike('b'), anomaly_type: 'budget_threshold', unit: 'usd', observed: '90', baseline: '100', multiplier: 0.9 }, true],
    [{ ...spike('b'), anomaly_type: 'budget_threshold', unit: 'usd', observed: '89.999999999', baseline: '100', multiplier: 0.9 }, false],
    [{ ...spike('b'), anomaly_type: 'budget_threshold', unit: 'usd', observed: '0.9', baseline: null, multiplier: 0.9 }, true],
    [{ ...spike('b'), anomaly_type: 'budget_threshold', unit: 'usd', observed: 'n/a', baseline: '100', multiplier: 0.95 }, false],
    [{ ...spike('c'), anomaly_type: 'negative_roi', unit: 'percent', observed: '-60', multiplier: null }, true],
    [{ ...spike('c'), anomaly_type: 'negative_roi', unit: 'percent', observed: '-59', multiplier: null }, false],
    [{ ...spike('d'), anomaly_type: 'efficiency_drop', multiplier: null }, false],
    [{ ...spike('e'), status: 'resolved' }, false],
  ] as [AnomalyInput, boolean][])('%j → %s', (a, expected) => {
    expect(isTrigger(a, cfg)).toBe(expected);
  });
});

describe('breaker escalation', () => {
  it('goes throttle → switch model → pause → page as triggers keep coming, with the seed actions', () => {
    const { results } = run([
      anomaly(spike('a1'), T0),
      anomaly(spike('a2'), T0 + 1000),
      anomaly(spike('a3'), T0 + 2000),
      anomaly(spike('a4'), T0 + 3000),
      anomaly(spike('a5'), T0 + 4000),
    ]);
    expect(results.map((r) => r.transition?.to_level)).toEqual(['throttle', 'switch_model', 'pause', 'page', undefined]);
    const [throttle, sw, pause, page] = results.slice(0, 4).map((r) => r.transition!.control);
    expect(throttle).toMatchObject({ level: 'throttle', requests_per_minute: 20, model_map: {}, paused_until: null });
    expect(sw.model_map).toEqual({ 'gpt-4o': 'gpt-3.5-turbo-0125', 'gpt-4': 'gpt-3.5-turbo-0125' });
    expect(pause.paused_until).toBe(new Date(T0 + 2000 + 3_600_000).toISOString());
    expect(page.paused_until).toBe(pause.paused_until);
    expect(results[3].transition!.page).toBe(true);
    expect(results.slice(0, 3).every((r) => !r.transition!.page)).toBe(true);
  });

  it('throttles 10–50 requests/minute by severity', () => {
    for (const [severity, rpm] of [['critical', 10], ['high', 20], ['medium', 35], ['low', 50]] as const) {
      const r = step(null, 'p', { kind: 'anomaly', anomaly: spike('x', 1, { severity, multiplier: 4 }), now: T0 }, cfg);
      expect(r.transition!.control.requests_per_minute).toBe(rpm);
    }
  });

  it('does not skip levels on a burst of anomalies faster than the escalation interval, but tightens the rate', () => {
    const { results, state } = run([anomaly(spike('a1', 1, { severity: 'medium' }), T0), anomaly(spike('a2', 1, { severity: 'critical' }), T0 + 10)]);
    expect(results[1].transition).toMatchObject({ cause: 'tighten', to_level: 'throttle' });
    expect(results[1].transition!.control.requests_per_minute).toBe(10);
    expect(state!.level).toBe('throttle');
  });

  it('ignores a redelivered anomaly state but escalates on its next sequence', () => {
    const { results } = run([anomaly(spike('a1'), T0), anomaly(spike('a1'), T0 + 5000), anomaly(spike('a1', 2), T0 + 6000)]);
    expect(results[1]).toMatchObject({ transition: null, changed: false });
    expect(results[2].transition!.to_level).toBe('switch_model');
  });

  it('gives each transition a deterministic id, so a replay from the same state publishes the same id', () => {
    const a = step(null, 'p1', { kind: 'anomaly', anomaly: spike('a1'), now: T0 }, cfg);
    const b = step(null, 'p1', { kind: 'anomaly', anomaly: spike('a1'), now: T0 }, cfg);
    expect(a.transition!.transition_id).toBe(b.transition!.transition_id);
    const c = step(a.state, 'p1', { kind: 'anomaly', anomaly: spike('a2'), now: T0 + 2000 }, cfg);
    expect(c.transition!.transition_id).not.toBe(a.transition!.transition_id);
  });

  it('pauses at once when a budget is spent, even while throttled and inside the escalation interval', () => {
    const spent = { ...spike('budget'), anomaly_type: 'budget_threshold', severity: 'critical', observed: '50', baseline: '50', multiplier: 1 } as AnomalyInput;
    const { results } = run([anomaly(spike('a1'), T0), anomaly(spent, T0 + 10)]);
    expect(results.map((r) => r.transition?.to_level)).toEqual(['throttle', 'pause']);
    expect(results[1].transition!.control.paused_until).toBe(new Date(T0 + 10 + cfg.pauseMs).toISOString());
  });

  it('ignores anomalies that are not triggers', () => {
    const r = step(null, 'p1', { kind: 'anomaly', anomaly: spike('a1', 1, { multiplier: 2, severity: 'medium' }), now: T0 }, cfg);
    expect(r.transition).toBeNull();
    expect(r.state.level).toBe('normal');
  });
});

describe('breaker recovery (half-open)', () => {
  it('probes when every trigger is resolved, then closes when the probe passes', () => {
    const { results, state } = run([
      anomaly(spike('a1'), T0),
      anomaly(spike('a2'), T0 + 1000),
      anomaly({ ...spike('a1', 2), status: 'resolved' }, T0 + 2000),
      anomaly({ ...spike('a2', 2), status: 'resolved' }, T0 + 3000),
      tick(T0 + 3000 + 29_999),
      tick(T0 + 3000 + 30_000),
    ]);
    expect(results[2].transition).toBeNull(); // a2 still open
    expect(results[3].transition).toMatchObject({ cause: 'probe', from_level: 'switch_model', to_level: 'throttle' });
    expect(results[3].transition!.control).toMatchObject({ probing: true, requests_per_minute: 50, model_map: {} });
    expect(results[4].transition).toBeNull();
    expect(results[5].transition).toMatchObject({ cause: 'recover', to_level: 'normal' });
    expect(results[5].transition!.control).toMatchObject({ level: 'normal', requests_per_minute: null, expires_at: null });
    expect(state!.open).toEqual({});
  });

  it('reopens at the level it left when a trigger arrives while probing, then escalates from there', () => {
    const { results } = run([
      anomaly(spike('a1'), T0),
      anomaly(spike('a2'), T0 + 1000),
      tick(T0 + 1000 + 60_000),
      anomaly(spike('a3'), T0 + 62_000),
      anomaly(spike('a4'), T0 + 63_000),
    ]);
    expect(results[2].transition).toMatchObject({ cause: 'probe', from_level: 'switch_model' });
    expect(results[3].transition).toMatchObject({ cause: 'reopen', to_level: 'switch_model' });
    expect(results[4].transition).toMatchObject({ cause: 'escalate', to_level: 'pause' });
  });

  it('holds a pause until it runs out even if the anomalies resolve, then probes', () => {
    const { results } = run([
      anomaly(spike('a1'), T0),
      anomaly(spike('a2'), T0 + 1000),
      anomaly(spike('a3'), T0 + 2000),
      anomaly({ ...spike('a3', 2), status: 'resolved' }, T0 + 3000),
      tick(T0 + 2000 + 3_600_000 - 1),
      tick(T0 + 2000 + 3_600_000),
    ]);
    expect(results[2].transition!.to_level).toBe('pause');
    expect(results[3].transition).toBeNull();
    expect(results[4].transition).toBeNull();
    expect(results[5].transition).toMatchObject({ cause: 'probe', from_level: 'pause', to_level: 'throttle' });
    expect(results[5].transition!.control.paused_until).toBeNull();
  });
});

describe('manual override', () => {
  it('holds an operator-set level against automatic changes until resumed, and resume goes to normal', () => {
    const { results, state } = run([
      (s) => step(s, 'p1', { kind: 'override', level: 'pause', actor: 'ops@x', reason: 'incident', now: T0 }, cfg),
      anomaly(spike('a1'), T0 + 5000),
      tick(T0 + 3_600_000 * 2),
      (s) => step(s, 'p1', { kind: 'resume', actor: 'ops@x', reason: 'fixed', now: T0 + 10_000 }, cfg),
    ]);
    expect(results[0].transition!.control).toMatchObject({ level: 'pause', manual: true });
    expect(results[1].transition).toBeNull();
    expect(results[2].transition).toBeNull();
    expect(results[3].transition).toMatchObject({ cause: 'resume', to_level: 'normal', actor: 'ops@x' });
    expect(results[3].transition!.control).toMatchObject({ level: 'normal', manual: true });
    expect(state!.level).toBe('normal');
    const again = step(state, 'p1', { kind: 'anomaly', anomaly: spike('a9'), now: T0 + 20_000 }, cfg);
    expect(again.transition).toMatchObject({ to_level: 'throttle' });
    expect(again.transition!.control.manual).toBe(false);
  });

  it('keeps the replay guard bounded', () => {
    let s: BreakerState | null = null;
    for (let i = 0; i < 500; i++) s = step(s, 'p1', { kind: 'anomaly', anomaly: spike(`n${i}`, 1, { multiplier: 1, severity: 'low' }), now: T0 + i }, cfg).state;
    expect(Object.keys(s!.seen)).toHaveLength(cfg.maxTrackedAnomalies);
    expect(toControl(s!, cfg, T0).level).toBe('normal');
  });
});
