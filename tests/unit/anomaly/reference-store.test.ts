import type { Pool } from 'pg';
import { AnomalyEngine } from '../../../consumers/anomaly/engine';
import { ReferenceStore } from '../../../consumers/anomaly/reference-store';
import { anomalySettings } from '../../../consumers/anomaly/settings';
import { AnomalyRecord } from '../../../consumers/anomaly/types';
import { llmCost } from './synthetic';

/** A pool answering the reference queries from in-memory rows. */
function fakePool(rows: { scoped: unknown[]; teams: unknown[] }): Pool {
  return {
    query: async (sql: string) => {
      if (sql.includes('FROM scoped_budgets')) return { rows: rows.scoped };
      if (sql.includes('FROM persona_teams')) return { rows: rows.teams };
      return { rows: [] };
    },
  } as unknown as Pool;
}

const day = Date.UTC(2026, 0, 5);
const th = (p: string) => [{ percent: p, severity: 'high' }];

describe('ReferenceStore: the budgets covering a persona', () => {
  it('memoises persona, global and team budgets per persona, in scopeKeysOf order, until the data changes', async () => {
    const rows = {
      scoped: [
        { scope_kind: 'global', scope_value: '', period: 'daily', limit_usd: '10', thresholds: th('50') },
        { scope_kind: 'persona', scope_value: 'ann', period: 'daily', limit_usd: '1', thresholds: th('90') },
        { scope_kind: 'team', scope_value: 'growth', period: 'monthly', limit_usd: '5', thresholds: th('80') },
      ],
      teams: [{ persona_id: 'ann', team: 'growth' }],
    };
    const ref = new ReferenceStore(fakePool(rows), 1n);
    await ref.refresh();
    expect(ref.personaScopeBudgets('ann').map((b) => `${b.kind}:${b.value}`)).toEqual(['persona:ann', 'global:', 'team:growth']);
    expect(ref.personaScopeBudgets('bob').map((b) => `${b.kind}:${b.value}`)).toEqual(['global:']);
    expect(ref.personaScopeBudgets('ann')).toBe(ref.personaScopeBudgets('ann'));
    expect([ref.hasScopedKind('team'), ref.hasScopedKind('service'), ref.hasScopedKind('tag')]).toEqual([true, false, false]);
    rows.teams = [{ persona_id: 'bob', team: 'growth' }];
    await ref.refresh();
    expect(ref.personaScopeBudgets('bob').map((b) => `${b.kind}:${b.value}`)).toEqual(['global:', 'team:growth']);
    expect(ref.personaScopeBudgets('ann').map((b) => `${b.kind}:${b.value}`)).toEqual(['persona:ann', 'global:']);
  });

  it('an engine on it sees the same anomalies as on scope-key lookups', async () => {
    const rows = {
      scoped: [
        { scope_kind: 'team', scope_value: 'growth', period: 'daily', limit_usd: '1', thresholds: th('50') },
        { scope_kind: 'model', scope_value: 'gpt-4o', period: 'daily', limit_usd: '1', thresholds: th('90') },
      ],
      teams: [{ persona_id: 'ann', team: 'growth' }],
    };
    const ref = new ReferenceStore(fakePool(rows), 1n);
    await ref.refresh();
    const clock = { now: day };
    const engine = new AnomalyEngine(anomalySettings({ ANOMALY_MAX_CLOCK_SKEW_MS: 60_000 }), ref, () => clock.now);
    const out: AnomalyRecord[] = [];
    for (let i = 0; i < 10; i++) {
      clock.now = day + i * 1000;
      engine.onCost(0, llmCost('ann', clock.now, 100_000_000n, 'gpt-4o'), clock.now, out);
    }
    expect(out.map((r) => [r.scope_kind, r.details.threshold_percent, r.observed])).toEqual([['team', '50', '0.500000000'], ['model', '90', '0.900000000']]);
  });
});
