import { AnomalyEngine, ReferenceData } from '../../../consumers/anomaly/engine';
import { anomalySettings } from '../../../consumers/anomaly/settings';
import { Overrides } from '../../../src/config';
import { CostEvent, PostOutcome } from '../../../src/events';
import { usdToNano } from '../../../src/money';

export const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);

/** Small windows so scenarios are short: 1 s windows, 200 ms lateness, baselines of 3–10 windows. */
export const TEST_SETTINGS: Overrides = {
  ANOMALY_WINDOW_MS: 1000,
  ANOMALY_ALLOWED_LATENESS_MS: 200,
  ANOMALY_BASELINE_WINDOWS: 10,
  ANOMALY_MIN_BASELINE_WINDOWS: 3,
  ANOMALY_MIN_BASELINE_ACTIONS: 10,
  // Cohorts of 1 s of event time, mature 2 s after their period; one post with outcomes is enough.
  ANOMALY_COHORT_MS: 1000,
  ANOMALY_OUTCOME_HORIZON_MS: 2000,
  ANOMALY_BASELINE_COHORTS: 10,
  ANOMALY_MIN_BASELINE_COHORTS: 3,
  ANOMALY_COHORT_MIN_POSTS: 1,
  ANOMALY_COHORT_MIN_ACTIONS: 10,
  ANOMALY_POST_IDLE_MS: 60_000,
  ANOMALY_PERSONA_IDLE_MS: 60_000,
  ANOMALY_MAX_CLOCK_SKEW_MS: 3_600_000_000,
};

export class FakeReference implements ReferenceData {
  budgets = new Map<string, bigint>();
  targets = new Map<string, bigint>();
  budget(personaId: string, period: 'daily' | 'monthly') {
    return this.budgets.get(`${personaId}/${period}`);
  }
  hasBudget(personaId: string) {
    return this.budgets.has(`${personaId}/daily`) || this.budgets.has(`${personaId}/monthly`);
  }
  postTarget(personaId: string) {
    return this.targets.get(personaId) ?? usdToNano('0.02');
  }
}

let seq = 0;
export function cost(persona: string, t: number, usd: string, post: string | null = null): CostEvent {
  return {
    event_id: `e${++seq}`, event_time: new Date(t), cost_type: 'openai_api', amount: usdToNano(usd), currency: 'USD',
    persona_id: persona, post_id: post, operation: null, service: null, correlation_id: null, request_id: null,
    llm_usage: null, compute_usage: null, vector_db_usage: null, price: { source: 't', version: '1', status: 'priced', unit_prices: {} }, metadata: {},
  };
}

export function outcome(persona: string, post: string, t: number, engagements: number, revenueUsd = '0', follows = 0, final = false): PostOutcome {
  return {
    event_id: `o${++seq}`, post_id: post, persona_id: persona, occurred_at: new Date(t), follows, engagements, revenue: usdToNano(revenueUsd), currency: 'USD', is_final: final,
  };
}

/** An engine on a fake wall clock that the test moves. */
export function testEngine(extra: Overrides = {}) {
  const clock = { now: T0 };
  const ref = new FakeReference();
  const engine = new AnomalyEngine(anomalySettings({ ...TEST_SETTINGS, ...extra }), ref, () => clock.now);
  return { engine, clock, ref };
}
