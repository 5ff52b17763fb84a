/**
 * V8 heap held per post by the anomaly engine: 100,000 posts of 1,000 personas, each with a cost
 * event, and (second figure) a cumulative outcome as well; with the partition's recent-id set full.
 * Also: the memory (V8 heap + typed-array stores) one persona's seasonal profile adds, and one
 * scoped budget (spend, forecast, contributors): 1,000 personas with a window every 5 minutes over
 * 3 hours, fed the same with the feature on and off.
 * Run: node --expose-gc --import tsx benchmarks/anomaly-state-bytes.ts
 */
import { randomUUID } from 'node:crypto';
import { AnomalyEngine } from '../consumers/anomaly/engine';
import { decimal } from '../consumers/anomaly/exact';
import { ScopedBudget } from '../consumers/anomaly/scoped-budgets';
import { anomalySettings } from '../consumers/anomaly/settings';
import { CostEvent, PostOutcome } from '../src/events';

const POSTS = 100_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const heap = () => {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
};
const ref = { budget: () => undefined, hasBudget: () => false, postTarget: () => 20_000_000n };
const now = Date.now();

function measure(withOutcomes: boolean): number {
  const engine = new AnomalyEngine(anomalySettings({ ANOMALY_MAX_POSTS: POSTS * 2 }), ref, () => now);
  // Personas, windows and the recent-id set first, so the figure is the posts' own.
  for (let i = 0; i < 1000; i++) engine.onCost(i % 6, cost(i, now - 1000, null), now);
  for (let i = 0; i < 200_000; i++) engine.onCost(i % 6, cost(i % 1000, now - 1000, null), now);
  const before = heap();
  for (let k = 0; k < POSTS; k++) {
    const persona = k % 1000;
    const post = `persona-${persona}-post-${k}`;
    engine.onCost(persona % 6, cost(persona, now - 900, post), now);
    if (withOutcomes) engine.onOutcome(persona % 6, outcome(persona, post, now - 800), now);
  }
  const bytes = (heap() - before) / POSTS;
  if (engine.stats().posts !== POSTS) throw new Error(`expected ${POSTS} posts, held ${engine.stats().posts}`);
  return bytes;
}

function cost(persona: number, t: number, post: string | null): CostEvent {
  return {
    event_id: randomUUID(), event_time: new Date(t), cost_type: 'openai_api', amount: 1_234_567n, currency: 'USD', persona_id: `persona-${persona}`, post_id: post,
    operation: null, service: null, correlation_id: null, request_id: null, llm_usage: null, compute_usage: null, vector_db_usage: null,
    price: { source: 'b', version: '1', status: 'priced', unit_prices: {} }, metadata: {},
  };
}

function outcome(persona: number, post: string, t: number): PostOutcome {
  return { event_id: randomUUID(), post_id: post, persona_id: `persona-${persona}`, occurred_at: new Date(t), follows: 3, engagements: 120, revenue: 50_000_000n, currency: 'USD', is_final: false };
}

/** Heap (and typed-array backing stores) held after feeding `feed` to a fresh engine, the same traffic with and without the feature. */
function held(make: () => AnomalyEngine, feed: (e: AnomalyEngine) => void): number {
  const bytes = () => {
    heap();
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  const before = bytes();
  const engine = make();
  feed(engine);
  const after = bytes();
  if (engine.stats().personas !== 1000) throw new Error('expected 1,000 personas');
  return after - before;
}

/** 1,000 personas with a window every 5 minutes over 3 hours. */
const threeHours = (e: AnomalyEngine) => {
  const start = now - 4 * 3_600_000;
  for (let m = 0; m < 180; m += 5) for (let i = 0; i < 1000; i++) e.onCost(i % 6, cost(i, start + m * 60_000, null), now);
  e.tick();
};

function seasonalPerPersona(): number {
  const make = (seasonal: 'on' | 'off') => () => new AnomalyEngine(anomalySettings({ ANOMALY_SEASONAL: seasonal, ANOMALY_MAX_CLOCK_SKEW_MS: 10 * 86_400_000 }), ref, () => now);
  held(make('off'), threeHours); // warm-up
  return (held(make('on'), threeHours) - held(make('off'), threeHours)) / 1000;
}

function scopedPerBudget(): number {
  const budgets = new Map<string, ScopedBudget[]>();
  for (let i = 0; i < 1000; i++) {
    budgets.set(`persona:persona-${i}`, [{ kind: 'persona', value: `persona-${i}`, period: 'daily', limit: 10n ** 15n, thresholds: [50, 80, 90, 100].map((p) => ({ percent: decimal(String(p)), severity: 'medium', control: null })) }]);
  }
  const make = (on: boolean) => () =>
    new AnomalyEngine(anomalySettings({ ANOMALY_SEASONAL: 'off', ANOMALY_MAX_CLOCK_SKEW_MS: 10 * 86_400_000 }), { ...ref, scopedBudgets: (k: string) => budgets.get(k), hasScopedBudgets: () => on, teamOf: () => undefined }, () => now);
  held(make(false), threeHours);
  return (held(make(true), threeHours) - held(make(false), threeHours)) / 1000;
}

const seasonalBytes = seasonalPerPersona();
const scopedBytes = scopedPerBudget();
const costOnly = measure(false);
const withOutcome = measure(true);
process.stdout.write(`${JSON.stringify({
  posts: POSTS, bytes_per_post_cost_only: Math.round(costOnly), bytes_per_post_with_outcome: Math.round(withOutcome),
  seasonal_bytes_per_persona: Math.round(seasonalBytes), bytes_per_scoped_budget: Math.round(scopedBytes),
})}\n`);
