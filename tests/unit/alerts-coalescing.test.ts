import { CostAnomaly } from '../../src/contracts/anomaly';
import { EscalationCoalescer } from '../../consumers/alerts/coalescing';

const state = (sequence: number, severity: CostAnomaly['severity'], patch: Partial<CostAnomaly> = {}): CostAnomaly => ({
  anomaly_id: 'a1', sequence, status: sequence === 1 ? 'open' : 'escalated', anomaly_type: 'cost_spike', severity, persona_id: 'p1', post_id: null,
  detected_at: new Date(0), window_start: new Date(0), window_end: new Date(60_000), observed: '0.06', baseline: '0.02', threshold: '0.06',
  unit: 'usd', multiplier: 3, triggering_event_ids: [], trigger_published_at: null, message: '', details: {}, ...patch,
}) as CostAnomaly;

class FakeClock {
  t = 1_000_000;
  now() {
    return this.t;
  }
}

describe('EscalationCoalescer', () => {
  let clock: FakeClock;
  let c: EscalationCoalescer<string>;
  beforeEach(() => {
    clock = new FakeClock();
    c = new EscalationCoalescer<string>(3000, clock);
  });

  it('sends the open state at once and folds a burst of escalations into one follow-up at the highest severity', () => {
    expect(c.offer(state(1, 'medium'), 'o1').decision).toBe('send');
    clock.t += 300;
    expect(c.offer(state(2, 'high'), 'o2').decision).toBe('hold');
    clock.t += 600;
    expect(c.offer(state(3, 'critical'), 'o3').decision).toBe('hold');
    expect(c.take()).toEqual([]); // window still open
    clock.t += 2099;
    expect(c.take()).toEqual([]);
    clock.t += 1;
    const [f, ...rest] = c.take();
    expect(rest).toEqual([]);
    expect(f.anomaly).toMatchObject({ sequence: 3, severity: 'critical' });
    expect(f.representative.item).toBe('o3');
    expect(f.superseded.map((h) => h.item)).toEqual(['o2']);
    expect(f.held.map((h) => h.item)).toEqual(['o2', 'o3']);
    expect(c.take()).toEqual([]); // sent once
  });

  it('carries the highest severity held even when the latest state is lower', () => {
    c.offer(state(1, 'medium'), 'o1');
    c.offer(state(2, 'critical'), 'o2');
    c.offer(state(3, 'high'), 'o3');
    clock.t += 3000;
    expect(c.take()[0].anomaly).toMatchObject({ sequence: 3, severity: 'critical' });
  });

  it('an escalation after the window is its own notice, and the window restarts from each notice', () => {
    c.offer(state(1, 'medium'), 'o1');
    clock.t += 3000;
    expect(c.offer(state(2, 'high'), 'o2').decision).toBe('send');
    clock.t += 1000;
    expect(c.offer(state(3, 'critical'), 'o3').decision).toBe('hold');
    clock.t += 1999;
    expect(c.take()).toEqual([]);
    clock.t += 1; // 3 s after the notice of state 2
    expect(c.take().map((f) => f.anomaly.sequence)).toEqual([3]);
    clock.t += 1000; // within 3 s of that follow-up
    expect(c.offer(state(4, 'critical'), 'o4').decision).toBe('hold');
  });

  it('an escalation of an anomaly it never saw (restart, rebalance) goes at once; anomalies are independent', () => {
    expect(c.offer(state(2, 'high'), 'x').decision).toBe('send');
    expect(c.offer(state(1, 'high', { anomaly_id: 'a2' }), 'y').decision).toBe('send');
    expect(c.offer(state(3, 'critical'), 'z').decision).toBe('hold');
    expect(c.offer(state(2, 'critical', { anomaly_id: 'a2' }), 'w').decision).toBe('hold');
    clock.t += 3000;
    expect(c.take().map((f) => [f.anomaly.anomaly_id, f.anomaly.sequence])).toEqual([['a1', 3], ['a2', 2]]);
  });

  it('a redelivered state held twice is one representative, not a superseded copy of itself', () => {
    c.offer(state(1, 'medium'), 'o1');
    c.offer(state(2, 'high'), 'o2');
    c.offer(state(2, 'high'), 'o2-again');
    clock.t += 3000;
    const [f] = c.take();
    expect(f.superseded).toEqual([]);
    expect(f.held.map((h) => h.item)).toEqual(['o2', 'o2-again']);
  });

  it('take(true) hands over everything held (shutdown, rebalance)', () => {
    c.offer(state(1, 'medium'), 'o1');
    c.offer(state(2, 'high'), 'o2');
    expect(c.take(true).map((f) => f.anomaly.sequence)).toEqual([2]);
    expect(c.take(true)).toEqual([]);
  });

  it('a resolution supersedes what is held and forgets the anomaly', () => {
    c.offer(state(1, 'medium'), 'o1');
    c.offer(state(2, 'high'), 'o2');
    const r = c.offer(state(3, 'high', { status: 'resolved' }), 'r');
    expect(r).toEqual({ decision: 'send', superseded: [expect.objectContaining({ item: 'o2' })] });
    clock.t += 3000;
    expect(c.take()).toEqual([]);
    expect(c.size).toBe(0);
  });

  it('forgets quiet anomalies once their window has passed (bounded memory)', () => {
    for (let i = 0; i < 100; i++) c.offer(state(1, 'medium', { anomaly_id: `q${i}` }), 'o');
    expect(c.size).toBe(100);
    clock.t += 2999;
    c.take();
    expect(c.size).toBe(100);
    clock.t += 1;
    c.take();
    expect(c.size).toBe(0);
  });

  it('window 0 sends every state at once', () => {
    const off = new EscalationCoalescer<string>(0, clock);
    expect(off.offer(state(1, 'medium'), 'o1').decision).toBe('send');
    expect(off.offer(state(2, 'high'), 'o2').decision).toBe('send');
    expect(off.size).toBe(0);
  });
});
