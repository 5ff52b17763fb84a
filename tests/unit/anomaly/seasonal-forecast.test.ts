import { newForecast, observeSpend, project } from '../../../consumers/anomaly/forecast';
import { addWindow, newSeasonal, seasonalBaseline, seasonalBytes } from '../../../consumers/anomaly/seasonal';
import { parseSnapshot, serializeSnapshot } from '../../../consumers/anomaly/snapshot';
import { dailyCycle, llmCost, replayEngine, rng } from './synthetic';

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('burn-rate forecast (discounted least-squares line through spend per minute)', () => {
  it('projects the exhaustion time of a linear ramp within 10 % of the truth, from a third of the way in', () => {
    const r = rng(7);
    const day = Date.UTC(2026, 0, 5);
    const a = 2_000; // nano-USD per minute, per minute
    const limit = (a * 840 * 841) / 2; // the ramp spends it by 14:00
    const truth = day + 840 * MINUTE;
    const f = newForecast();
    let spent = 0;
    for (let m = 0; m < 300; m++) {
      const x = a * (m + 1) * (1 + 0.1 * (r() - 0.5));
      observeSpend(f, day + m * MINUTE + 1000, x);
      spent += x;
    }
    const now = day + 300 * MINUTE;
    const p = project(f, spent, limit, now, day + DAY);
    const err = Math.abs((p.exhaustionAt ?? Infinity) - truth) / (truth - now);
    console.log(`ramp: projected exhaustion ${new Date(p.exhaustionAt!).toISOString()}, truth ${new Date(truth).toISOString()}, error ${(err * 100).toFixed(2)} % of the horizon`);
    expect(err).toBeLessThan(0.1);
    expect(p.expected).toBeGreaterThan(limit);
    expect(p.low).toBeLessThanOrEqual(p.expected);
    expect(p.high).toBeGreaterThanOrEqual(p.expected);
  });

  it('a steady noisy rate: the 90 % band holds the period total in most of 40 seeded days; no exhaustion out of reach', () => {
    let inside = 0;
    const day = Date.UTC(2026, 0, 5);
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      const f = newForecast();
      const xs: number[] = [];
      for (let m = 0; m < 1440; m++) xs.push(10_000 * (1 + (r() - 0.5)));
      const total = xs.reduce((a, b) => a + b, 0);
      let spent = 0;
      for (let m = 0; m < 480; m++) {
        observeSpend(f, day + m * MINUTE, xs[m]);
        spent += xs[m];
      }
      const p = project(f, spent, total * 2, day + 480 * MINUTE, day + DAY);
      if (p.low <= total && total <= p.high) inside++;
      expect(p.exhaustionAt).toBeNull();
      expect(Math.abs(p.expected - total) / total).toBeLessThan(0.15);
    }
    console.log(`steady rate: the true total inside the 90 % band on ${inside} of 40 days`);
    expect(inside).toBeGreaterThanOrEqual(30);
  });

  it('spend that stops brings the forecast back down (minutes without spend count as zero)', () => {
    const day = Date.UTC(2026, 0, 5);
    const f = newForecast();
    for (let m = 0; m < 60; m++) observeSpend(f, day + m * MINUTE, 10_000);
    const before = project(f, 600_000, 1e7, day + 60 * MINUTE, day + DAY).expected;
    observeSpend(f, day + 180 * MINUTE, 1); // two quiet hours
    const after = project(f, 600_001, 1e7, day + 180 * MINUTE, day + DAY).expected;
    expect(after).toBeLessThan(before / 2);
  });
});

describe('seasonal baseline (hour-of-week median/MAD)', () => {
  it('is the median of the same hour in the earlier weeks, the same hour of earlier days before that, none before a day', () => {
    const s = newSeasonal(4);
    const mon9 = Date.UTC(2026, 0, 5, 9);
    expect(seasonalBaseline(s, mon9)).toBeNull();
    addWindow(s, mon9, 100n);
    addWindow(s, mon9 + MINUTE, 300n); // mean 200
    addWindow(s, mon9 + HOUR, 5n); // flushes 09:00
    expect(seasonalBaseline(s, mon9 + DAY)).toMatchObject({ median: 200n, kind: 'hour_of_day', samples: 1 });
    for (let w = 1; w <= 3; w++) {
      addWindow(s, mon9 + w * 7 * DAY, BigInt(200 + w * 100));
      addWindow(s, mon9 + w * 7 * DAY + HOUR, 1n);
    }
    // weeks: 200, 300, 400, 500 → the median of the 4 earlier weeks
    expect(seasonalBaseline(s, mon9 + 4 * 7 * DAY)).toMatchObject({ median: 350n, kind: 'hour_of_week', samples: 4 });
    // a fifth week overwrites the oldest slot: 300, 400, 500, 900
    addWindow(s, mon9 + 4 * 7 * DAY, 900n);
    addWindow(s, mon9 + 4 * 7 * DAY + HOUR, 1n);
    expect(seasonalBaseline(s, mon9 + 5 * 7 * DAY)).toMatchObject({ median: 450n, samples: 4 });
  });

  it('holds a fixed, small amount of memory per persona (well under 10 KB), and survives a checkpoint', () => {
    const s = newSeasonal(4);
    const r = rng(3);
    for (let m = 0; m < 14 * 1440; m += 7) addWindow(s, Date.UTC(2026, 0, 5) + m * MINUTE, BigInt(Math.round(r() * 1e8)));
    console.log(`seasonal state: ${seasonalBytes(s)} bytes per persona (4 weeks)`);
    expect(seasonalBytes(s)).toBeLessThan(5000);
    const { engine, feed } = replayEngine({ ANOMALY_SEASONAL: 'on' });
    for (const x of dailyCycle(2, 1)) feed(llmCost('ckpt', x.t, x.nano));
    const snap = parseSnapshot(serializeSnapshot(engine.snapshot(0)));
    const before = engine.partitions.get(0)!.personas.get('ckpt')!.seasonal!;
    const after = snap.personas[0].seasonal!;
    expect(Array.from(after.values)).toEqual(Array.from(before.values));
    expect(Array.from(after.stamps)).toEqual(Array.from(before.stamps));
  });
});

/** Feeds the series (and `inject` after each minute's event) and counts cost_spike anomalies opened. */
function spikesOver(seasonal: 'on' | 'off', inject?: (t: number, feed: ReturnType<typeof replayEngine>['feed']) => void) {
  const h = replayEngine({ ANOMALY_SEASONAL: seasonal });
  for (const x of dailyCycle(14, 42)) {
    h.feed(llmCost('cyclic', x.t, x.nano));
    inject?.(x.t, h.feed);
    if (x.t % (10 * MINUTE) < MINUTE) h.tick(x.t);
  }
  h.tick(h.clock.now + 10 * MINUTE);
  return { h, opened: h.out.filter((a) => a.anomaly_type === 'cost_spike' && a.status === 'open') };
}

describe('cost spikes on a two-week daily cycle (×4 between night and day, ±20 % noise)', () => {
  it('raises no false alarm with seasonal baselines on, unlike the rolling median', () => {
    const on = spikesOver('on').opened;
    const off = spikesOver('off').opened;
    console.log(`cost_spike false alarms over 14 days: seasonal on ${on.length}, seasonal off ${off.length}`);
    expect(on).toHaveLength(0);
    expect(off.length).toBeGreaterThan(0);
  });

  it('detects a 3× spike at the daily peak, and its root cause names the model that drove it', () => {
    // Sunday of the second week, 14:00: the window spends its usual ~$0.20 plus $0.45 of gpt-4o (≈ 3.25×).
    const peak = Date.UTC(2026, 0, 18, 14, 0);
    const { opened } = spikesOver('on', (t, feed) => {
      if (t >= peak && t < peak + MINUTE) feed(llmCost('cyclic', t + 1000, 450_000_000n, 'gpt-4o', 'hook_generation', 'post-77'));
    });
    expect(opened).toHaveLength(1);
    const a = opened[0];
    console.log(`spike: ${a.message}; baseline ${a.details.baseline_kind}; root causes ${JSON.stringify(a.root_causes)}`);
    expect(a.details.baseline_kind).toMatch(/^hour_of_week/);
    expect(a.multiplier!).toBeGreaterThanOrEqual(3);
    expect(a.root_causes![0]).toMatchObject({ model: 'gpt-4o', operation: 'hook_generation', post_id: 'post-77' });
    expect(a.root_causes![0].share_percent).toBeGreaterThan(50);
  });
});

describe('a backlog read faster than the wall-clock tick', () => {
  it('resolves an expired spike on the next event, so a later spike is a new anomaly', () => {
    const h = replayEngine({ ANOMALY_SEASONAL: 'off' });
    const t0 = Date.UTC(2026, 0, 5, 12);
    const spikeAt = [30, 90];
    for (let m = 0; m < 120; m++) {
      h.feed(llmCost('burst', t0 + m * MINUTE + 1000, spikeAt.includes(m) ? 500_000_000n : 100_000_000n)); // no tick at all
    }
    const states = h.out.filter((a) => a.anomaly_type === 'cost_spike').map((a) => `${a.status}@${a.window_start.toISOString().slice(11, 16)}`);
    expect(states).toEqual(['open@12:30', 'resolved@12:30', 'open@13:30', 'resolved@13:30']);
  });
});
