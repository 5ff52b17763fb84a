import { BudgetScopeKind } from '../../src/contracts/anomaly';
import { ControlLevel } from '../../src/contracts/controls';
import { CostEvent } from '../../src/events';
import { formatUsd, ratio } from '../../src/money';
import { Decimal, decimalText, percentToFraction, ratioAtLeast, scaleAmount } from './exact';
import { Forecast, ForecastParams, ForecastState, newForecast, observeSpend, project } from './forecast';
import { OpenAnomaly, report, resolve } from './lifecycle';
import { utcDayStart, utcMonthEnd, utcMonthStart } from './persona-state';
import { addContribution, Contribution, rootCauses } from './root-causes';
import { restoreScoped, ScopedSnapshot, snapshotScoped } from './scoped-snapshot';
import { AnomalySettings } from './settings';
import { AnomalyRecord, Finding, Severity } from './types';

export type BudgetPeriod = 'daily' | 'monthly';

export interface BudgetThreshold {
  /** Percent of the limit, e.g. 90. */
  percent: Decimal;
  severity: Severity;
  /** What the circuit breaker does for the scope when this threshold is crossed; null: notify only. */
  control: ControlLevel | null;
}

/** A budget on a scope (table scoped_budgets). */
export interface ScopedBudget {
  kind: BudgetScopeKind;
  /** Persona, service, team or model id; key=value for a tag; '' for global. */
  value: string;
  period: BudgetPeriod;
  limit: bigint;
  /** Ascending by percent. */
  thresholds: BudgetThreshold[];
}

/** `kind:value`, the lookup key of a scope. */
export const scopeKey = (kind: BudgetScopeKind, value: string) => `${kind}:${value}`;
export const budgetId = (b: Pick<ScopedBudget, 'kind' | 'value' | 'period'>) => `${scopeKey(b.kind, b.value)}/${b.period}`;

/** The subject a scoped anomaly is published under (its persona_id and Kafka key): the persona itself, or `scope:kind:value`. */
export const scopeSubjectOf = (kind: BudgetScopeKind, value: string) => (kind === 'persona' ? value : `scope:${kind}:${value}`);

/** What the engine needs to know of scoped budgets (from Postgres, by the adapter). */
export interface ScopedReference {
  /** Budgets on a scope key, or undefined. */
  scopedBudgets(key: string): readonly ScopedBudget[] | undefined;
  /** Any scoped budget at all: with none, events skip the scope matching. */
  hasScopedBudgets(): boolean;
  teamOf(personaId: string): string | undefined;
  /**
   * The budgets on a persona, on global and on the persona's team, in that order, memoised by the
   * adapter until its reference data changes; absent, each event looks them up by scope key.
   */
  personaScopeBudgets?(personaId: string): readonly ScopedBudget[];
  /** Whether any budget is on this kind of scope (absent: assume so); events skip the kinds nobody budgets. */
  hasScopedKind?(kind: BudgetScopeKind): boolean;
}

/** The scope keys covering an event: its persona, the persona's team, service, model, each tag, and global. */
export function scopeKeysOf(e: CostEvent, teamOf: (personaId: string) => string | undefined): string[] {
  const keys = [scopeKey('persona', e.persona_id), scopeKey('global', '')];
  const team = teamOf(e.persona_id);
  if (team !== undefined) keys.push(scopeKey('team', team));
  if (e.service) keys.push(scopeKey('service', e.service));
  if (e.llm_usage?.model) keys.push(scopeKey('model', e.llm_usage.model));
  for (const k in e.metadata) keys.push(scopeKey('tag', `${k}=${e.metadata[k]}`));
  return keys;
}

/** The running state of one scoped budget in its current period, summed over the partitions this instance owns. */
export interface ScopeSpend {
  id: string;
  kind: BudgetScopeKind;
  value: string;
  period: BudgetPeriod;
  periodStart: number;
  periodEnd: number;
  /** Spend per input partition (so a revoked partition's part leaves with it), and their sum. */
  byPartition: Map<number, bigint>;
  spent: bigint;
  /** Open threshold anomalies, by threshold percent text. */
  open: Map<string, OpenAnomaly>;
  forecast: ForecastState;
  forecastAnomaly: OpenAnomaly | null;
  last: Forecast | null;
  contrib: Contribution[];
  /**
   * Per threshold percent text (and 'forecast'): how often it resolved within this period before
   * its period ended (a raised budget, a forecast that fell back). A later crossing in the same
   * period is a new anomaly, with a new id: the n-th reopening is keyed `periodStart#n`.
   */
  reopened: Map<string, number>;
}

export interface ScopedBudgetView {
  id: string;
  kind: BudgetScopeKind;
  value: string;
  period: BudgetPeriod;
  periodStart: number;
  spent: bigint;
  forecast: Forecast | null;
}

const FORECAST_KEY = 'forecast';

/** The id key of an anomaly of a threshold (or the forecast) in the current period; see ScopeSpend.reopened. */
function occurrenceKey(st: ScopeSpend, key: string): string | number {
  const n = st.reopened.get(key) ?? 0;
  return n === 0 ? st.periodStart : `${st.periodStart}#${n}`;
}

const reopen = (st: ScopeSpend, key: string) => st.reopened.set(key, (st.reopened.get(key) ?? 0) + 1);

export function periodOf(period: BudgetPeriod, t: number): [number, number] {
  if (period === 'daily') {
    const d = utcDayStart(t);
    return [d, d + 86_400_000];
  }
  const m = utcMonthStart(t);
  return [m, utcMonthEnd(m)];
}

/**
 * Every budget covering an event is checked on that event: each of its thresholds opens its own
 * anomaly (id by scope, period start and threshold), once per period; it resolves when the period
 * ends or the budget is raised above it. The burn-rate forecast (forecast.ts) of each budget opens
 * a budget_forecast anomaly when it crosses the limit plus the margin, and resolves when it falls
 * back below the limit.
 */
export class ScopedBudgets {
  readonly spends = new Map<string, ScopeSpend>();
  private readonly fp: ForecastParams;

  constructor(private readonly s: AnomalySettings, private readonly ref: ScopedReference) {
    this.fp = { halfLifeMinutes: s.forecastHalfLifeMinutes };
  }

  /** Per budget object (replaced on every reload): its state and its thresholds as exact nano-USD amounts. */
  private readonly fast = new WeakMap<ScopedBudget, { st: ScopeSpend; levels: { key: string; nano: bigint; th: BudgetThreshold }[] }>();

  private levels(b: ScopedBudget): { key: string; nano: bigint; th: BudgetThreshold }[] {
    // spent / limit ≥ p / 100  ⇔  spent ≥ ⌈limit · p.units / (100 · 10^p.scale)⌉
    return b.thresholds.map((th) => {
      const den = 100n * 10n ** BigInt(th.percent.scale);
      const num = b.limit * th.percent.units;
      return { key: decimalText(th.percent), nano: (num + den - 1n) / den, th };
    });
  }

  private stateFast(b: ScopedBudget, t: number): { st: ScopeSpend; levels: { key: string; nano: bigint; th: BudgetThreshold }[] } | null {
    const f = this.fast.get(b);
    if (f && t >= f.st.periodStart && t < f.st.periodEnd && this.spends.get(f.st.id) === f.st) return f;
    const st = this.state(b, t);
    if (!st) return null;
    const entry = { st, levels: this.levels(b) };
    this.fast.set(b, entry);
    return entry;
  }

  private state(b: ScopedBudget, t: number): ScopeSpend | null {
    const id = budgetId(b);
    const [start, end] = periodOf(b.period, t);
    let st = this.spends.get(id);
    if (!st) st = this.create(id, b.kind, b.value, b.period, start, end);
    if (start < st.periodStart) return null; // an event of a period already over
    if (start > st.periodStart) this.rollOver(st, start, end);
    return st;
  }

  private create(id: string, kind: BudgetScopeKind, value: string, period: BudgetPeriod, start: number, end: number): ScopeSpend {
    const st: ScopeSpend = {
      id, kind, value, period, periodStart: start, periodEnd: end, byPartition: new Map(), spent: 0n,
      open: new Map(), forecast: newForecast(), forecastAnomaly: null, last: null, contrib: [], reopened: new Map(),
    };
    this.spends.set(id, st);
    return st;
  }

  /** A partition's part of every budget's state, for its checkpoint; `budgets`: the ids whose earlier spend it holds. */
  snapshot(partition: number, budgets: string[]): ScopedSnapshot {
    return snapshotScoped(this.spends.values(), partition, budgets);
  }

  /** Adds a checkpointed partition's part (after dropPartition took out what it had). */
  restore(partition: number, snap: ScopedSnapshot): void {
    restoreScoped(snap, partition, (x) => {
      const st = this.spends.get(x.id);
      if (!st) return this.create(x.id, x.kind, x.value, x.period, x.periodStart, x.periodEnd);
      if (x.periodStart > st.periodStart) this.rollOver(st, x.periodStart, x.periodEnd);
      return st;
    });
  }

  private rollOver(st: ScopeSpend, start: number, end: number, wall?: number, out?: AnomalyRecord[]): void {
    if (out && wall !== undefined) this.resolveAll(st, wall, out, 'the budget period ended');
    else {
      st.open.clear();
      st.forecastAnomaly = null;
    }
    st.periodStart = start;
    st.periodEnd = end;
    st.byPartition.clear();
    st.spent = 0n;
    st.forecast = newForecast();
    st.last = null;
    st.contrib = [];
    st.reopened.clear();
  }

  private resolveAll(st: ScopeSpend, wall: number, out: AnomalyRecord[], reason: string): void {
    const subject = scopeSubjectOf(st.kind, st.value);
    for (const a of st.open.values()) out.push(resolve(a, subject, wall, reason));
    st.open.clear();
    if (st.forecastAnomaly) out.push(resolve(st.forecastAnomaly, subject, wall, reason));
    st.forecastAnomaly = null;
  }

  /** Adds an event to every budget covering it and judges them. */
  onCost(partition: number, e: CostEvent, t: number, publishedAt: number, wall: number, out: AnomalyRecord[]): void {
    if (!this.ref.hasScopedBudgets()) return;
    const fixed = this.ref.personaScopeBudgets?.(e.persona_id);
    if (!fixed) {
      for (const key of scopeKeysOf(e, (p) => this.ref.teamOf(p))) this.addToAll(this.ref.scopedBudgets(key), partition, e, t, publishedAt, wall, out);
      return;
    }
    // Same budgets in the same order as scopeKeysOf, without building a key per scope per event.
    for (let i = 0; i < fixed.length; i++) this.addTo(fixed[i], partition, e, t, publishedAt, wall, out);
    const has = (kind: BudgetScopeKind) => this.ref.hasScopedKind?.(kind) ?? true;
    if (e.service && has('service')) this.addToAll(this.ref.scopedBudgets(scopeKey('service', e.service)), partition, e, t, publishedAt, wall, out);
    if (e.llm_usage?.model && has('model')) this.addToAll(this.ref.scopedBudgets(scopeKey('model', e.llm_usage.model)), partition, e, t, publishedAt, wall, out);
    if (has('tag')) for (const k in e.metadata) this.addToAll(this.ref.scopedBudgets(scopeKey('tag', `${k}=${e.metadata[k]}`)), partition, e, t, publishedAt, wall, out);
  }

  private addToAll(budgets: readonly ScopedBudget[] | undefined, partition: number, e: CostEvent, t: number, publishedAt: number, wall: number, out: AnomalyRecord[]): void {
    if (budgets) for (let i = 0; i < budgets.length; i++) this.addTo(budgets[i], partition, e, t, publishedAt, wall, out);
  }

  private addTo(b: ScopedBudget, partition: number, e: CostEvent, t: number, publishedAt: number, wall: number, out: AnomalyRecord[]): void {
    const f = this.stateFast(b, t);
    if (!f) return;
    const st = f.st;
    st.byPartition.set(partition, (st.byPartition.get(partition) ?? 0n) + e.amount);
    st.spent += e.amount;
    addContribution(st.contrib, e);
    const minute = st.forecast.minute;
    observeSpend(st.forecast, t, Number(e.amount), this.fp);
    // Thresholds: one exact comparison each; the forecast moves only when a minute is folded in.
    let crossed = false;
    for (const l of f.levels) if (st.spent >= l.nano && !st.open.has(l.key)) crossed = true;
    if (crossed) this.judge(st, b, t, [e.event_id], publishedAt, wall, out, false);
    if (minute !== st.forecast.minute || st.last === null) this.judgeForecast(st, b, t, [e.event_id], publishedAt, wall, out);
  }

  /**
   * Adds spend already in the ledger for a partition (its events below the offset this consumer
   * reads from) in the period starting at `periodStart`. Nothing to add creates no state.
   */
  seed(partition: number, b: ScopedBudget, periodStart: number, amount: bigint): void {
    if (amount === 0n) return;
    const st = this.state(b, periodStart);
    if (!st || st.periodStart !== periodStart) return;
    st.spent += amount;
    st.byPartition.set(partition, (st.byPartition.get(partition) ?? 0n) + amount);
  }

  dropPartition(n: number): void {
    for (const st of this.spends.values()) {
      const part = st.byPartition.get(n);
      if (part !== undefined) {
        st.spent -= part;
        st.byPartition.delete(n);
      }
    }
  }

  private finding(st: ScopeSpend, b: ScopedBudget, th: BudgetThreshold): Finding {
    const use = ratio(st.spent, b.limit);
    const pct = decimalText(th.percent);
    const details: Record<string, string> = {
      period: b.period, budget_usd: formatUsd(b.limit), threshold_percent: pct, scope: scopeKey(b.kind, b.value), used_percent: (use * 100).toFixed(2),
    };
    if (th.control) details.control = th.control;
    return {
      type: 'budget_threshold', severity: th.severity, observed: formatUsd(st.spent), baseline: formatUsd(b.limit),
      threshold: formatUsd(scaleAmount(b.limit, percentToFraction(th.percent))), unit: 'usd', multiplier: use,
      message: `${(use * 100).toFixed(1)} % of the ${b.period} budget of ${b.kind} ${b.kind === 'global' ? '(all spend)' : JSON.stringify(b.value)} ($${formatUsd(b.limit)}) spent: the ${pct} % threshold`,
      details, scope: { kind: b.kind, value: b.value }, rootCauses: rootCauses(st.contrib, null),
    };
  }

  private judge(st: ScopeSpend, b: ScopedBudget, t: number, ids: string[], publishedAt: number | null, wall: number, out: AnomalyRecord[], forecast = true): void {
    const subject = scopeSubjectOf(b.kind, b.value);
    for (const th of b.thresholds) {
      const key = decimalText(th.percent);
      if (st.open.has(key) || !ratioAtLeast(st.spent, b.limit, percentToFraction(th.percent))) continue;
      const r = report(undefined, {
        personaId: subject, slot: `scoped_budget:${budgetId(b)}:${key}`, windowKey: occurrenceKey(st, key), windowStart: st.periodStart, windowEnd: st.periodEnd,
        postId: null, finding: this.finding(st, b, th), triggeringIds: ids, triggerPublishedAt: publishedAt, now: wall,
      });
      st.open.set(key, r.anomaly);
      if (r.emitted) out.push(r.emitted);
    }
    if (forecast) this.judgeForecast(st, b, t, ids, publishedAt, wall, out);
  }

  private judgeForecast(st: ScopeSpend, b: ScopedBudget, t: number, ids: string[], publishedAt: number | null, wall: number, out: AnomalyRecord[]): void {
    const limit = Number(b.limit);
    const f = project(st.forecast, Number(st.spent), limit, t, st.periodEnd);
    st.last = f;
    const subject = scopeSubjectOf(b.kind, b.value);
    if (st.forecastAnomaly) {
      if (f.expected < limit) {
        out.push(resolve(st.forecastAnomaly, subject, wall, `the forecast fell back to $${formatUsd(BigInt(Math.round(f.expected)))}, below the limit`));
        st.forecastAnomaly = null;
        reopen(st, FORECAST_KEY);
      }
      return;
    }
    if (f.minutes < this.s.forecastMinMinutes || st.spent >= b.limit) return;
    if (f.expected < limit * (1 + this.s.forecastMarginPercent / 100)) return;
    const severity: Severity = f.low >= limit ? 'high' : 'medium';
    const exhaustion = f.exhaustionAt;
    const finding: Finding = {
      type: 'budget_forecast', severity, observed: formatUsd(BigInt(Math.round(f.expected))), baseline: formatUsd(b.limit), threshold: formatUsd(b.limit),
      unit: 'usd', multiplier: f.expected / limit,
      message: `at this rate the ${b.period} budget of ${b.kind} ${JSON.stringify(b.value)} ($${formatUsd(b.limit)}) runs out${exhaustion ? ` at ${new Date(exhaustion).toISOString()}, ${Math.round((st.periodEnd - exhaustion) / 60_000)} min before the period ends` : ''}: $${formatUsd(BigInt(Math.round(f.expected)))} projected (90 % band $${formatUsd(BigInt(Math.round(f.low)))}–$${formatUsd(BigInt(Math.round(f.high)))})`,
      details: {
        period: b.period, budget_usd: formatUsd(b.limit), scope: scopeKey(b.kind, b.value), spent_usd: formatUsd(st.spent),
        forecast_usd: formatUsd(BigInt(Math.round(f.expected))), forecast_low_usd: formatUsd(BigInt(Math.round(f.low))), forecast_high_usd: formatUsd(BigInt(Math.round(f.high))),
        ...(exhaustion ? { exhaustion_at: new Date(exhaustion).toISOString() } : {}), margin_percent: String(this.s.forecastMarginPercent),
      },
      scope: { kind: b.kind, value: b.value }, rootCauses: rootCauses(st.contrib, null),
    };
    const r = report(undefined, {
      personaId: subject, slot: `budget_forecast:${budgetId(b)}`, windowKey: occurrenceKey(st, FORECAST_KEY), windowStart: st.periodStart, windowEnd: st.periodEnd,
      postId: null, finding, triggeringIds: ids, triggerPublishedAt: publishedAt, now: wall,
    });
    st.forecastAnomaly = r.anomaly;
    if (r.emitted) out.push(r.emitted);
  }

  /** Periods that ended by event time `clock` resolve their anomalies and start afresh. */
  tick(clock: number, wall: number, out: AnomalyRecord[]): void {
    for (const st of this.spends.values()) {
      if (clock >= st.periodEnd) {
        const [start, end] = periodOf(st.period, clock);
        this.rollOver(st, start, end, wall, out);
      }
    }
  }

  /** Budgets changed: removed budgets resolve, thresholds no longer crossed (raised limit) resolve, newly crossed open. */
  onReferenceChanged(wall: number, out: AnomalyRecord[]): void {
    for (const [id, st] of this.spends) {
      const b = this.ref.scopedBudgets(scopeKey(st.kind, st.value))?.find((x) => x.period === st.period);
      if (!b) {
        this.resolveAll(st, wall, out, 'the budget was removed');
        this.spends.delete(id);
        continue;
      }
      const subject = scopeSubjectOf(st.kind, st.value);
      for (const [key, a] of st.open) {
        const th = b.thresholds.find((x) => decimalText(x.percent) === key);
        if (!th || !ratioAtLeast(st.spent, b.limit, percentToFraction(th.percent))) {
          out.push(resolve(a, subject, wall, 'the budget was raised or the threshold removed'));
          st.open.delete(key);
          reopen(st, key);
        }
      }
      this.judge(st, b, st.forecast.minute >= 0 ? st.forecast.minute * 60_000 : st.periodStart, [], null, wall, out);
    }
  }

  views(): ScopedBudgetView[] {
    return [...this.spends.values()].map((st) => ({ id: st.id, kind: st.kind, value: st.value, period: st.period, periodStart: st.periodStart, spent: st.spent, forecast: st.last }));
  }

  openAnomalies(): number {
    let n = 0;
    for (const st of this.spends.values()) n += st.open.size + (st.forecastAnomaly ? 1 : 0);
    return n;
  }
}
