import { BudgetDetector } from './detectors/budget-detector';
import { resolve } from './lifecycle';
import { applyReport, PersonaState, utcDayStart, utcMonthEnd, utcMonthStart } from './persona-state';
import { AnomalySettings } from './settings';
import { AnomalyRecord } from './types';

import type { ScopedReference } from './scoped-budgets';

/** Budgets and post targets, kept current from Postgres by the adapter; scoped budgets and per-persona switches where the adapter has them. */
export interface ReferenceData extends Partial<ScopedReference> {
  budget(personaId: string, period: 'daily' | 'monthly'): bigint | undefined;
  hasBudget(personaId: string): boolean;
  postTarget(personaId: string): bigint;
  /** Seasonal baselines on or off for this persona (its own setting, else its team's); undefined: the default. */
  seasonalFor?(personaId: string): boolean | undefined;
}

/** Per-persona spend in the current UTC day and month, judged against the persona's budgets. */
export class Budgets {
  private readonly detector: BudgetDetector;

  constructor(s: AnomalySettings, private readonly ref: ReferenceData) {
    this.detector = new BudgetDetector(s.budget);
  }

  /** The last month computed, [start, end): nearly every event falls in it, and needs no Date then. */
  private monthStart = 0;
  private monthEnd = 0;

  private monthOf(t: number): number {
    if (t < this.monthStart || t >= this.monthEnd) {
      this.monthStart = utcMonthStart(t);
      this.monthEnd = utcMonthEnd(this.monthStart);
    }
    return this.monthStart;
  }

  addSpend(persona: PersonaState, t: number, amount: bigint): void {
    const day = utcDayStart(t);
    if (day > persona.dayStart) {
      persona.dayStart = day;
      persona.daySpend = 0n;
    }
    if (day === persona.dayStart) persona.daySpend += amount;
    const month = this.monthOf(t);
    if (month > persona.monthStart) {
      persona.monthStart = month;
      persona.monthSpend = 0n;
    }
    if (month === persona.monthStart) persona.monthSpend += amount;
  }

  evaluate(persona: PersonaState, ids: string[], publishedAt: number | null, wall: number, out: AnomalyRecord[], mayResolve = false): void {
    // Without a budget there is nothing to open, and only a reference change may resolve.
    if (!mayResolve && !this.ref.hasBudget(persona.personaId)) return;
    for (const period of ['daily', 'monthly'] as const) {
      const slot = `budget_threshold:${period}` as const;
      const limit = this.ref.budget(persona.personaId, period);
      const open = persona.anomalies[slot];
      const spend = period === 'daily' ? persona.daySpend : persona.monthSpend;
      const start = period === 'daily' ? persona.dayStart : persona.monthStart;
      if (start === 0) continue;
      const finding = limit === undefined ? null : this.detector.evaluate({ period, spend, limit });
      if (finding) {
        // A new period is a new anomaly: the old one is resolved by the period end (resolveExpired).
        if (open && open.windowStart !== start) continue;
        const end = period === 'daily' ? start + 86_400_000 : utcMonthEnd(start);
        const n = persona.budgetReopened?.[`${slot}@${start}`] ?? 0;
        applyReport(persona, slot, {
          personaId: persona.personaId, slot, windowKey: n === 0 ? start : `${start}#${n}`, windowStart: start, windowEnd: end,
          postId: null, finding, triggeringIds: ids, triggerPublishedAt: publishedAt, now: wall,
        }, out);
      } else if (open && mayResolve && open.windowStart === start) {
        out.push(resolve(open, persona.personaId, wall, 'the budget was raised or removed'));
        delete persona.anomalies[slot];
        // Only the current periods' counts are kept.
        const kept: Record<string, number> = {};
        for (const [k, v] of Object.entries(persona.budgetReopened ?? {})) if (k.endsWith(`@${persona.dayStart}`) || k.endsWith(`@${persona.monthStart}`)) kept[k] = v;
        kept[`${slot}@${start}`] = (kept[`${slot}@${start}`] ?? 0) + 1;
        persona.budgetReopened = kept;
      }
    }
  }

  resolveExpired(persona: PersonaState, wm: number, wall: number, out: AnomalyRecord[]): void {
    for (const slot of ['budget_threshold:daily', 'budget_threshold:monthly'] as const) {
      const b = persona.anomalies[slot];
      if (b && wm >= b.windowEnd) {
        out.push(resolve(b, persona.personaId, wall, 'the budget period ended'));
        delete persona.anomalies[slot];
      }
    }
  }

  /** Budgeted personas keep their period spend; their number is bounded by the budgets table. */
  holdsState(personaId: string): boolean {
    return this.ref.hasBudget(personaId);
  }
}
