import { scopeKeysOf } from '../../../consumers/anomaly/scoped-budgets';
import { parseSnapshot, serializeSnapshot } from '../../../consumers/anomaly/snapshot';
import { llmCost, replayEngine } from './synthetic';

const MINUTE = 60_000;
const day = Date.UTC(2026, 0, 5);
const usd = (x: number) => BigInt(Math.round(x * 1e9));

describe('scoped budgets', () => {
  it('covers an event by its persona, team, service, model, each tag and global', () => {
    const e = llmCost('p1', day, 1n, 'gpt-4o', 'reply', null, 'writer', { env: 'prod' });
    expect(scopeKeysOf(e, () => 'growth')).toEqual(['persona:p1', 'global:', 'team:growth', 'service:writer', 'model:gpt-4o', 'tag:env=prod']);
  });

  it('a team budget crossed by two personas together, neither over its own budget: a team anomaly asking for the team-wide control', () => {
    const { ref, out, feed } = replayEngine();
    ref.teams.set('ann', 'growth').set('bob', 'growth');
    ref.addBudget('team', 'growth', 'daily', '10', [['90', 'high', 'throttle'], ['100', 'critical', 'pause']]);
    ref.addBudget('persona', 'ann', 'daily', '8', [['90', 'high', 'throttle']]);
    ref.addBudget('persona', 'bob', 'daily', '8', [['90', 'high', 'throttle']]);
    for (let i = 0; i < 10; i++) {
      feed(llmCost('ann', day + i * MINUTE, usd(0.5)), 0); // ann and bob sit on different partitions
      feed(llmCost('bob', day + i * MINUTE + 1, usd(0.5)), 1);
    }
    const budget = out.filter((a) => a.anomaly_type === 'budget_threshold');
    expect(budget.map((a) => [a.persona_id, a.scope_kind, a.scope_value, a.details.threshold_percent, a.details.control, a.severity])).toEqual([
      ['scope:team:growth', 'team', 'growth', '90', 'throttle', 'high'],
      ['scope:team:growth', 'team', 'growth', '100', 'pause', 'critical'],
    ]);
    expect(budget[1].observed).toBe('10.000000000');
  });

  it('thresholds 50/80/90/100: four notices, once each; the period end resolves them; a new period starts afresh', () => {
    const { ref, out, feed, tick } = replayEngine();
    ref.addBudget('model', 'gpt-4o', 'daily', '1', [['50', 'low'], ['80', 'medium'], ['90', 'high'], ['100', 'critical', 'pause']]);
    for (let i = 0; i < 30; i++) feed(llmCost(`p${i % 3}`, day + i * MINUTE, usd(0.05), 'gpt-4o'));
    feed(llmCost('p0', day + 40 * MINUTE, usd(1), 'gpt-4o-mini')); // another model: not covered
    const opened = out.filter((a) => a.anomaly_type === 'budget_threshold' && a.status === 'open');
    expect(opened.map((a) => [a.details.threshold_percent, a.severity, a.observed])).toEqual([
      ['50', 'low', '0.500000000'], ['80', 'medium', '0.800000000'], ['90', 'high', '0.900000000'], ['100', 'critical', '1.000000000'],
    ]);
    expect(new Set(opened.map((a) => a.anomaly_id)).size).toBe(4);
    tick(day + 86_400_000 + 10_000);
    const resolved = out.filter((a) => a.anomaly_type === 'budget_threshold' && a.status === 'resolved');
    expect(resolved).toHaveLength(4);
    expect(resolved.every((a) => a.message.includes('period ended'))).toBe(true);
    feed(llmCost('p0', day + 86_400_000 + 20_000, usd(0.6), 'gpt-4o'));
    expect(out.filter((a) => a.status === 'open' && a.anomaly_type === 'budget_threshold')).toHaveLength(5);
  });

  it('a raised budget resolves the thresholds no longer crossed; a removed one resolves them all', () => {
    const { engine, ref, out, feed } = replayEngine();
    ref.addBudget('service', 'writer', 'monthly', '1', [['50', 'low'], ['90', 'high']]);
    for (let i = 0; i < 19; i++) feed(llmCost('p', day + i * MINUTE, usd(0.05), 'gpt-4o', 'reply', null, 'writer'));
    expect(out.filter((a) => a.status === 'open').map((a) => a.details.threshold_percent)).toEqual(['50', '90']);
    ref.addBudget('service', 'writer', 'monthly', '1.5', [['50', 'low'], ['90', 'high']]);
    engine.onReferenceChanged(out);
    expect(out.filter((a) => a.status === 'resolved').map((a) => a.details.threshold_percent)).toEqual(['90']);
    ref.scoped.clear();
    engine.onReferenceChanged(out);
    expect(out.filter((a) => a.status === 'resolved').map((a) => a.details.threshold_percent)).toEqual(['90', '50']);
  });

  it('a threshold crossed again after a raise in the same period is a new anomaly, with a fresh id', () => {
    const { engine, ref, out, feed } = replayEngine();
    ref.addBudget('service', 'writer', 'monthly', '1', [['90', 'high']]);
    for (let i = 0; i < 19; i++) feed(llmCost('p', day + i * MINUTE, usd(0.05), 'gpt-4o', 'reply', null, 'writer'));
    ref.addBudget('service', 'writer', 'monthly', '1.5', [['90', 'high']]);
    engine.onReferenceChanged(out);
    for (let i = 19; i < 28; i++) feed(llmCost('p', day + i * MINUTE, usd(0.05), 'gpt-4o', 'reply', null, 'writer'));
    const states = out.filter((a) => a.anomaly_type === 'budget_threshold').map((a) => [a.status, a.sequence, a.anomaly_id] as const);
    expect(states.map(([status, seq]) => [status, seq])).toEqual([['open', 1], ['resolved', 2], ['open', 1]]);
    expect(states[2][2]).not.toBe(states[0][2]);
  });

  it('a linear ramp that will exhaust the daily budget: budget_forecast fires before 80 % is spent, exhaustion within 10 % of the truth; it resolves when the spend stops', () => {
    const { ref, out, feed } = replayEngine();
    ref.addBudget('tag', 'campaign=spring', 'daily', '100', [['80', 'medium'], ['100', 'critical']]);
    // Spend per minute rises linearly so that $100 is spent at 14:00 (minute 840).
    const a = 100 / ((840 * 841) / 2);
    const truth = day + 840 * MINUTE;
    let spent = 0;
    let firedAt: { t: number; spent: number } | null = null;
    for (let m = 0; m < 900 && !firedAt; m++) {
      const x = a * (m + 1);
      feed(llmCost('ramp', day + m * MINUTE + 30_000, usd(x), 'gpt-4o', 'reply', null, null, { campaign: 'spring' }));
      spent += x;
      if (out.some((r) => r.anomaly_type === 'budget_forecast')) firedAt = { t: day + m * MINUTE + 30_000, spent };
    }
    const f = out.find((r) => r.anomaly_type === 'budget_forecast')!;
    expect(f).toBeDefined();
    const exhaustion = Date.parse(f.details.exhaustion_at);
    const err = Math.abs(exhaustion - truth) / (truth - firedAt!.t);
    console.log(`budget_forecast at ${new Date(firedAt!.t).toISOString()} with ${(firedAt!.spent).toFixed(2)} % spent; projected exhaustion ${f.details.exhaustion_at} (truth ${new Date(truth).toISOString()}, error ${(err * 100).toFixed(1)} % of the time left); ${f.message}`);
    expect(firedAt!.spent).toBeLessThan(80);
    expect(err).toBeLessThan(0.1);
    expect(f.scope_kind).toBe('tag');
    expect(f.root_causes![0].model).toBe('gpt-4o');
    // The spend stops: two quiet hours later the forecast has fallen back below the limit.
    feed(llmCost('ramp', firedAt!.t + 180 * MINUTE, 1n, 'gpt-4o', 'reply', null, null, { campaign: 'spring' }));
    expect(out.filter((r) => r.anomaly_type === 'budget_forecast').map((r) => r.status)).toEqual(['open', 'resolved']);
  });

  it('seeded spend (the ledger) counts once, and a revoked partition takes its part with it', () => {
    const { engine, ref, out, feed } = replayEngine();
    ref.addBudget('global', '', 'daily', '10', [['50', 'medium']]);
    const b = ref.scoped.get('global:')![0];
    engine.seedScopedSpend(0, b, day, usd(3));
    engine.seedScopedSpend(0, b, day, usd(1)); // a budget added later seeds what was read before it existed
    engine.seedScopedSpend(2, b, day, 0n);
    feed(llmCost('x', day + MINUTE, usd(0.5)), 1);
    expect(out.filter((a) => a.status === 'open')).toHaveLength(0);
    feed(llmCost('x', day + 2 * MINUTE, usd(0.5)), 1);
    expect(out.filter((a) => a.status === 'open').map((a) => a.observed)).toEqual(['5.000000000']);
    engine.dropPartition(0);
    expect(engine.scopedBudgets()[0].spent).toBe(usd(1));
  });

  it('a checkpoint carries each partition\'s part of the spend and the open thresholds: a restored engine goes on from them', () => {
    const a = replayEngine();
    a.ref.addBudget('team', 'growth', 'daily', '1', [['50', 'low'], ['100', 'critical']]);
    a.ref.teams.set('ann', 'growth').set('bob', 'growth');
    for (let i = 0; i < 3; i++) a.feed(llmCost('ann', day + i * MINUTE, usd(0.1)), 0);
    for (let i = 0; i < 3; i++) a.feed(llmCost('bob', day + i * MINUTE + 1, usd(0.1)), 1);
    expect(a.out.map((r) => [r.details.threshold_percent, r.status])).toEqual([['50', 'open']]);
    const snaps = [0, 1].map((n) => parseSnapshot(serializeSnapshot(a.engine.snapshot(n, ['team:growth/daily']))));

    const b = replayEngine();
    b.ref.scoped = a.ref.scoped;
    b.ref.teams = a.ref.teams;
    b.clock.now = a.clock.now;
    for (const snap of snaps) b.engine.restorePartition(snap);
    expect(b.engine.scopedBudgets()[0].spent).toBe(usd(0.6));
    expect(snaps[1].scoped!.budgets).toEqual(['team:growth/daily']);
    for (let i = 0; i < 4; i++) b.feed(llmCost('ann', day + (10 + i) * MINUTE, usd(0.1)), 0);
    // 50 % is still open (no second notice); 100 % at $1.00 counts the spend from before the restore.
    expect(b.out.map((r) => [r.details.threshold_percent, r.status, r.observed])).toEqual([['100', 'open', '1.000000000']]);
    b.engine.dropPartition(1);
    expect(b.engine.scopedBudgets()[0].spent).toBe(usd(0.7));
  });
});
