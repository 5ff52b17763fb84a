import { AnomalyEngine } from '../../../consumers/anomaly/engine';
import { BudgetThreshold, ScopedBudget, scopeKey } from '../../../consumers/anomaly/scoped-budgets';
import { anomalySettings } from '../../../consumers/anomaly/settings';
import { AnomalyRecord } from '../../../consumers/anomaly/types';
import { Overrides } from '../../../src/config';
import { CostEvent } from '../../../src/events';
import { decimal } from '../../../consumers/anomaly/exact';
import { usdToNano } from '../../../src/money';
import { FakeReference } from './engine-helpers';

/** A seeded generator (mulberry32): the same series on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class ScopedFakeReference extends FakeReference {
  scoped = new Map<string, ScopedBudget[]>();
  teams = new Map<string, string>();
  seasonal = new Map<string, boolean>();
  addBudget(kind: ScopedBudget['kind'], value: string, period: ScopedBudget['period'], limitUsd: string, thresholds: [string, BudgetThreshold['severity'], BudgetThreshold['control']?][]) {
    const key = scopeKey(kind, value);
    const list = (this.scoped.get(key) ?? []).filter((b) => b.period !== period);
    list.push({ kind, value, period, limit: usdToNano(limitUsd), thresholds: thresholds.map(([p, severity, control]) => ({ percent: decimal(p), severity, control: control ?? null })) });
    this.scoped.set(key, list);
  }
  scopedBudgets(key: string) {
    return this.scoped.get(key);
  }
  hasScopedBudgets() {
    return this.scoped.size > 0;
  }
  teamOf(personaId: string) {
    return this.teams.get(personaId);
  }
  seasonalFor(personaId: string) {
    return this.seasonal.get(personaId);
  }
}

let seq = 0;
export function llmCost(persona: string, t: number, nano: bigint, model = 'gpt-4o-mini', operation: string | null = 'reply', post: string | null = null, service: string | null = null, metadata: Record<string, string> = {}): CostEvent {
  return {
    event_id: `s${++seq}`, event_time: new Date(t), cost_type: 'openai_api', amount: nano, currency: 'USD', persona_id: persona, post_id: post, operation, service,
    correlation_id: null, request_id: null, llm_usage: { provider: 'openai', model, input_tokens: 1, output_tokens: 1, cached_input_tokens: 0 }, compute_usage: null,
    vector_db_usage: null, price: { source: 't', version: '1', status: 'priced', unit_prices: {} }, metadata,
  };
}

/** An engine on a wall clock that follows the event times fed to it (replaying history at full speed). */
export function replayEngine(extra: Overrides = {}) {
  const clock = { now: 0 };
  const ref = new ScopedFakeReference();
  const engine = new AnomalyEngine(anomalySettings({ ANOMALY_MAX_CLOCK_SKEW_MS: 60_000, ...extra }), ref, () => clock.now);
  const out: AnomalyRecord[] = [];
  const feed = (e: CostEvent, partition = 0) => {
    clock.now = Math.max(clock.now, e.event_time.getTime());
    engine.onCost(partition, e, clock.now, out);
  };
  const tick = (t: number) => {
    clock.now = Math.max(clock.now, t);
    engine.tick(out);
  };
  return { engine, ref, clock, out, feed, tick };
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

/**
 * Two weeks of one persona with a daily cycle: $0.05 a minute at night, $0.20 (×4) from 09:00 to
 * 21:00, ramps of 10 minutes, each minute's spend × (1 ± 20 %) seeded noise. It starts on a Monday
 * at 09:30, so every morning ramp after the first day has an earlier day's 09:00 hour behind it.
 */
export function dailyCycle(days: number, seed: number): { t: number; nano: bigint; level: number }[] {
  const r = rng(seed);
  const start = Date.UTC(2026, 0, 5, 9, 30); // a Monday
  const out: { t: number; nano: bigint; level: number }[] = [];
  for (let t = start; t < start + days * 24 * HOUR; t += MINUTE) {
    const minuteOfDay = Math.floor((t % (24 * HOUR)) / MINUTE);
    const up = Math.min(1, Math.max(0, (minuteOfDay - 9 * 60) / 10));
    const down = Math.min(1, Math.max(0, (minuteOfDay - 21 * 60) / 10));
    const level = 0.05 + 0.15 * (up - down);
    const usd = level * (1 + 0.4 * (r() - 0.5));
    out.push({ t: t + 1000, nano: BigInt(Math.round(usd * 1e9)), level });
  }
  return out;
}
