import { Pool } from 'pg';
import { DependencyError } from '../../src/errors';
import { nanoFromNumericText } from '../../src/money';
import { BudgetScopeKind } from '../../src/contracts/anomaly';
import { ControlLevel } from '../../src/contracts/controls';
import { ReferenceData } from './budgets';
import { decimal } from './exact';
import { BudgetThreshold, ScopedBudget, scopeKey } from './scoped-budgets';
import { Severity } from './types';

const SEVERITIES: readonly Severity[] = ['low', 'medium', 'high', 'critical'];
/** Personas whose covering budgets are memoised at once. */
const MAX_COVERING = 50_000;
const CONTROLS: readonly ControlLevel[] = ['throttle', 'switch_model', 'pause', 'page'];

/** Thresholds as stored (the API validates them on the way in); a malformed entry is left out. */
export function parseThresholds(raw: unknown): BudgetThreshold[] {
  if (!Array.isArray(raw)) return [];
  const out: BudgetThreshold[] = [];
  for (const t of raw) {
    if (typeof t !== 'object' || t === null) continue;
    const { percent, severity, control } = t as Record<string, unknown>;
    if (typeof percent !== 'string' && typeof percent !== 'number') continue;
    if (!SEVERITIES.includes(severity as Severity)) continue;
    try {
      out.push({ percent: decimal(String(percent)), severity: severity as Severity, control: CONTROLS.includes(control as ControlLevel) ? (control as ControlLevel) : null });
    } catch {
      continue;
    }
  }
  return out.sort((a, b) => Number(a.percent.units) / 10 ** a.percent.scale - Number(b.percent.units) / 10 ** b.percent.scale);
}

/**
 * Budgets (table budgets) and per-persona post targets (persona_targets), held in memory and
 * re-read every few seconds; the whole tables are small (one row per budgeted persona).
 * Budgets are set with the API or directly: INSERT INTO budgets (persona_id, period, limit_usd) …
 */
export class ReferenceStore implements ReferenceData {
  private budgets = new Map<string, bigint>();
  private budgeted = new Set<string>();
  private targets = new Map<string, bigint>();
  private scoped = new Map<string, ScopedBudget[]>();
  private scopedList: ScopedBudget[] = [];
  private teams = new Map<string, string>();
  private seasonal = new Map<string, boolean>();
  private fingerprint = '';
  /** personaScopeBudgets' memo (cleared on every change; bounded: cleared when full). */
  private covering = new Map<string, readonly ScopedBudget[]>();
  private scopedKinds = new Set<BudgetScopeKind>();

  constructor(private readonly pool: Pool, private readonly defaultTargetNano: bigint) {}

  /** Reloads; true when anything changed. */
  async refresh(): Promise<boolean> {
    let budgets;
    let targets;
    let scoped;
    let teams;
    let seasonal;
    try {
      [budgets, targets, scoped, teams, seasonal] = await Promise.all([
        this.pool.query('SELECT persona_id, period, limit_usd FROM budgets ORDER BY 1, 2'),
        this.pool.query('SELECT persona_id, target_cost_per_post_usd FROM persona_targets ORDER BY 1'),
        this.pool.query('SELECT scope_kind, scope_value, period, limit_usd, thresholds FROM scoped_budgets ORDER BY 1, 2, 3'),
        this.pool.query('SELECT persona_id, team FROM persona_teams ORDER BY 1'),
        this.pool.query('SELECT scope_kind, scope_value, seasonal FROM anomaly_seasonal_settings ORDER BY 1, 2'),
      ]);
    } catch (err) {
      throw new DependencyError('postgres', `loading budgets: ${(err as Error).message}`, { cause: err });
    }
    const fingerprint = JSON.stringify([budgets.rows, targets.rows, scoped.rows, teams.rows, seasonal.rows]);
    if (fingerprint === this.fingerprint) return false;
    this.fingerprint = fingerprint;
    this.budgets = new Map(budgets.rows.map((r) => [`${r.persona_id}/${r.period}`, nanoFromNumericText(r.limit_usd)]));
    this.budgeted = new Set(budgets.rows.map((r) => r.persona_id as string));
    this.targets = new Map(targets.rows.map((r) => [r.persona_id as string, nanoFromNumericText(r.target_cost_per_post_usd)]));
    this.scopedList = scoped.rows.map((r) => ({
      kind: r.scope_kind as BudgetScopeKind, value: r.scope_value as string, period: r.period as 'daily' | 'monthly',
      limit: nanoFromNumericText(r.limit_usd), thresholds: parseThresholds(r.thresholds),
    }));
    this.scoped = new Map();
    for (const b of this.scopedList) {
      const key = scopeKey(b.kind, b.value);
      this.scoped.set(key, [...(this.scoped.get(key) ?? []), b]);
    }
    this.covering = new Map();
    this.scopedKinds = new Set(this.scopedList.map((b) => b.kind));
    this.teams = new Map(teams.rows.map((r) => [r.persona_id as string, r.team as string]));
    this.seasonal = new Map(seasonal.rows.map((r) => [`${r.scope_kind}:${r.scope_value}`, r.seasonal as boolean]));
    return true;
  }

  budget(personaId: string, period: 'daily' | 'monthly'): bigint | undefined {
    return this.budgeted.has(personaId) ? this.budgets.get(`${personaId}/${period}`) : undefined;
  }

  hasBudget(personaId: string): boolean {
    return this.budgeted.has(personaId);
  }

  scopedBudgets(key: string): readonly ScopedBudget[] | undefined {
    return this.scoped.get(key);
  }

  allScopedBudgets(): readonly ScopedBudget[] {
    return this.scopedList;
  }

  hasScopedBudgets(): boolean {
    return this.scopedList.length > 0;
  }

  teamOf(personaId: string): string | undefined {
    return this.teams.get(personaId);
  }

  personaScopeBudgets(personaId: string): readonly ScopedBudget[] {
    let list = this.covering.get(personaId);
    if (list) return list;
    const team = this.teams.get(personaId);
    list = [
      ...(this.scoped.get(scopeKey('persona', personaId)) ?? []), ...(this.scoped.get(scopeKey('global', '')) ?? []),
      ...(team === undefined ? [] : this.scoped.get(scopeKey('team', team)) ?? []),
    ];
    if (this.covering.size >= MAX_COVERING) this.covering.clear();
    this.covering.set(personaId, list);
    return list;
  }

  hasScopedKind(kind: BudgetScopeKind): boolean {
    return this.scopedKinds.has(kind);
  }

  seasonalFor(personaId: string): boolean | undefined {
    const own = this.seasonal.get(`persona:${personaId}`);
    if (own !== undefined) return own;
    const team = this.teams.get(personaId);
    return team === undefined ? undefined : this.seasonal.get(`team:${team}`);
  }

  postTarget(personaId: string): bigint {
    return this.targets.get(personaId) ?? this.defaultTargetNano;
  }
}
