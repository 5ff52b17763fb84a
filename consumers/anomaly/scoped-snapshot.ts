import { ForecastState } from './forecast';
import { OpenAnomaly } from './lifecycle';
import { Contribution } from './root-causes';
import { ScopeSpend } from './scoped-budgets';
import { SEVERITY_RANK } from '../../src/contracts/anomaly';

/**
 * A scoped budget's state as one partition's checkpoint holds it: the partition's own part of the
 * spend (exact), and the state the partitions share (open anomalies, forecast, contributors,
 * reopenings), which every partition's checkpoint carries and a restore adopts where it has none.
 */
export interface ScopedSpendSnapshot extends Pick<ScopeSpend, 'id' | 'kind' | 'value' | 'period' | 'periodStart' | 'periodEnd' | 'spent'> {
  open: [string, OpenAnomaly][];
  forecast: ForecastState;
  forecastAnomaly: OpenAnomaly | null;
  contrib: Contribution[];
  reopened: [string, number][];
}

export interface ScopedSnapshot {
  /** Ids of the budgets the engine held when the checkpoint was taken: their spend below its offsets is in it. */
  budgets: string[];
  spends: ScopedSpendSnapshot[];
}

export function snapshotScoped(spends: Iterable<ScopeSpend>, partition: number, budgets: string[]): ScopedSnapshot {
  const out: ScopedSpendSnapshot[] = [];
  for (const st of spends) {
    const spent = st.byPartition.get(partition) ?? 0n;
    if (spent === 0n && st.open.size === 0 && !st.forecastAnomaly && st.reopened.size === 0) continue;
    out.push({
      id: st.id, kind: st.kind, value: st.value, period: st.period, periodStart: st.periodStart, periodEnd: st.periodEnd, spent,
      open: [...st.open], forecast: { ...st.forecast }, forecastAnomaly: st.forecastAnomaly, contrib: st.contrib, reopened: [...st.reopened],
    });
  }
  return { budgets, spends: out };
}

/** Adds one partition's checkpointed part to the live states (`get` finds or makes a state for the snapshot's period). */
export function restoreScoped(snap: ScopedSnapshot, partition: number, get: (s: ScopedSpendSnapshot) => ScopeSpend | null): void {
  for (const s of snap.spends) {
    const st = get(s);
    if (!st || st.periodStart !== s.periodStart) continue; // a period already over
    st.spent += s.spent;
    st.byPartition.set(partition, (st.byPartition.get(partition) ?? 0n) + s.spent);
    for (const [key, a] of s.open) {
      const cur = st.open.get(key);
      if (!cur || cur.sequence < a.sequence || SEVERITY_RANK[cur.severity] < SEVERITY_RANK[a.severity]) st.open.set(key, a);
    }
    if (!st.forecastAnomaly && s.forecastAnomaly) st.forecastAnomaly = s.forecastAnomaly;
    if (st.forecast.minute < 0 && s.forecast.minute >= 0) st.forecast = { ...s.forecast };
    if (st.contrib.length === 0) st.contrib = s.contrib;
    for (const [key, n] of s.reopened) if ((st.reopened.get(key) ?? 0) < n) st.reopened.set(key, n);
  }
}
