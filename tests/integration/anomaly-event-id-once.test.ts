import { CostTracker } from '../../producers';
import { utcMonthStart } from '../../consumers/anomaly/persona-state';
import { TestEnv } from '../../testkit/fixtures';
import { waitFor } from '../../testkit/wait-for';
import { AnomalyCollector, anomalyTestEnv, costEvent, startAnomaly } from './anomaly-support';

/**
 * One event id counts once in the anomaly consumer, whatever its event time: a caller's retry a
 * moment later, a replay from the month before, a retry across the month boundary.
 */
describe('anomaly consumer: an event id published 3 times with 3 event times counts once', () => {
  let env: TestEnv;
  let tracker: CostTracker;
  let collector: AnomalyCollector;
  const p = (name: string) => `${env.id}-${name}`;

  beforeAll(async () => {
    ({ env, tracker, collector } = await anomalyTestEnv('eventidonce'));
  });
  afterAll(() => env.close());

  it('budget spend and post totals count the event once (80 % of the budget, not 160 %; 2.5× the post target, not 5×)', async () => {
    // Monthly budgets of $6.25: $5 is exactly 80 % (medium); counted twice it is 160 % (critical).
    await env.pool.query(`INSERT INTO budgets (persona_id, period, limit_usd) VALUES ($1, 'monthly', 6.25), ($2, 'monthly', 6.25)`, [p('a'), p('b')]);
    await env.pool.query(`INSERT INTO persona_targets (persona_id, target_cost_per_post_usd) VALUES ($1, 2), ($2, 2)`, [p('a'), p('b')]);
    const now = Date.now();
    const month = utcMonthStart(now);

    // a: $5 now, the caller's retry 200 ms later, and a replay stamped the month before.
    const a = costEvent(p('a'), now - 30_000, '5', `${p('a')}-post`);
    const aTimes = [now - 30_000, now - 29_800, month - 500];
    // b: $1 stamped just before the month boundary, retried just after it, and again now; then $5 more this month.
    const b = costEvent(p('b'), month - 500, '1', `${p('b')}-post`);
    const bTimes = [month - 500, month + 500, now - 30_000];
    for (let i = 0; i < 3; i++) {
      await tracker.publishEvent({ ...a, event_time: new Date(aTimes[i]) });
      await tracker.publishEvent({ ...b, event_time: new Date(bTimes[i]) });
    }
    await tracker.publishEvent(costEvent(p('b'), now - 20_000, '5', `${p('b')}-post2`));
    await tracker.flush();

    await startAnomaly(env);
    const budget = (persona: string) => collector.forPersona(persona).filter((r) => r.anomaly_type === 'budget_threshold');
    await waitFor(() => budget(p('a')).length > 0 && budget(p('b')).length > 0, { timeoutMs: 30_000, what: 'budget anomalies' });
    await new Promise((r) => setTimeout(r, 2000)); // an escalation from a second count would show up here

    const summary = (persona: string) => collector.forPersona(persona).map((r) => [r.anomaly_type, r.status, r.severity, r.observed, r.window_start.getTime() === month]);
    const sorted = (rows: unknown[][]) => rows.sort((x, y) => String(x[0]).localeCompare(String(y[0])));
    expect(sorted(summary(p('a')))).toEqual([
      ['budget_threshold', 'open', 'medium', '5.000000000', true],
      ['post_cost_threshold', 'open', 'medium', '5.000000000', false],
    ]);
    // b: the $1 counts in the month it was first seen in (the previous one); this month holds the other $5 alone.
    expect(sorted(summary(p('b')))).toEqual([
      ['budget_threshold', 'open', 'medium', '5.000000000', true],
      ['post_cost_threshold', 'open', 'medium', '5.000000000', false],
    ]);
    expect(collector.duplicates()).toEqual([]);
  });
});
