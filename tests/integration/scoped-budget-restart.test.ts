import { CostTracker } from '../../producers';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { waitFor } from '../../testkit/wait-for';
import { AnomalyCollector, costEvent, spawnAnomalyProcess } from './anomaly-support';

/**
 * A restarted anomaly consumer resumes each scoped budget's spend from its checkpoint, whatever
 * the ledger holds: here no storage consumer runs at all (the extreme of a ledger that lags the
 * anomaly consumer), so spend read before the restart is known only to the checkpoint.
 */
describe('scoped budget spend across an anomaly consumer restart', () => {
  let env: TestEnv;
  let tracker: CostTracker;
  let collector: AnomalyCollector;

  beforeAll(async () => {
    env = await createTestEnv('scopedrestart');
    tracker = new CostTracker({ overrides: env.overrides });
    env.cleanup(() => tracker.close());
    collector = new AnomalyCollector(env);
    await collector.start();
  });
  afterAll(() => env.close());

  it('crosses 100 % after the restart with spend from before it, and does not notify 50 % again', async () => {
    const persona = `${env.id}-writer`;
    await env.pool.query(
      `INSERT INTO scoped_budgets (scope_kind, scope_value, period, limit_usd, thresholds)
       VALUES ('persona', $1, 'daily', 1, '[{"percent":"50","severity":"low"},{"percent":"100","severity":"critical"}]')`,
      [persona],
    );
    env.cleanup(() => env.pool.query('DELETE FROM scoped_budgets WHERE scope_value = $1', [persona]).then(() => undefined));
    const spend = async (usd: string, n: number) => {
      for (let i = 0; i < n; i++) void tracker.publishEvent(costEvent(persona, Date.now(), usd));
      await tracker.flush();
    };
    const budgetStates = () => collector.forPersona(persona).filter((r) => r.anomaly_type === 'budget_threshold');

    const first = spawnAnomalyProcess(env, { ANOMALY_REFERENCE_REFRESH_MS: '300' });
    await first.running;
    await spend('0.1', 6); // $0.60: the 50 % threshold
    await waitFor(() => budgetStates().some((r) => r.details.threshold_percent === '50'), { what: 'the 50 % notice', timeoutMs: 30_000 });
    expect(await first.kill('SIGTERM')).toBe(0); // a graceful stop checkpoints what it read

    const second = spawnAnomalyProcess(env, { ANOMALY_REFERENCE_REFRESH_MS: '300' });
    await second.running;
    await spend('0.1', 5); // $1.10 in all, $0.50 of it after the restart
    const full = await waitFor(() => budgetStates().find((r) => r.details.threshold_percent === '100'), { what: 'the 100 % notice after the restart', timeoutMs: 30_000 });
    await new Promise((r) => setTimeout(r, 1000));
    process.stderr.write(`scoped-budget-restart: ${JSON.stringify(budgetStates().map((r) => [r.details.threshold_percent, r.status, r.sequence, r.observed]))}\n`);
    expect(full.observed).toBe('1.000000000');
    expect(budgetStates().map((r) => [r.details.threshold_percent, r.status, r.sequence])).toEqual([['50', 'open', 1], ['100', 'open', 1]]);
    expect(collector.duplicates()).toEqual([]);
    await second.kill('SIGTERM');
  });
});
