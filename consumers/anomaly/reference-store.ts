import { Pool } from 'pg';
import { DependencyError } from '../../src/errors';
import { nanoFromNumericText } from '../../src/money';
import { ReferenceData } from './budgets';

/**
 * Budgets (table budgets) and per-persona post targets (persona_targets), held in memory and
 * re-read every few seconds; the whole tables are small (one row per budgeted persona).
 * Budgets are set with the API or directly: INSERT INTO budgets (persona_id, period, limit_usd) …
 */
export class ReferenceStore implements ReferenceData {
  private budgets = new Map<string, bigint>();
  private budgeted = new Set<string>();
  private targets = new Map<string, bigint>();
  private fingerprint = '';

  constructor(private readonly pool: Pool, private readonly defaultTargetNano: bigint) {}

  /** Reloads; true when anything changed. */
  async refresh(): Promise<boolean> {
    let budgets;
    let targets;
    try {
      [budgets, targets] = await Promise.all([
        this.pool.query('SELECT persona_id, period, limit_usd FROM budgets ORDER BY 1, 2'),
        this.pool.query('SELECT persona_id, target_cost_per_post_usd FROM persona_targets ORDER BY 1'),
      ]);
    } catch (err) {
      throw new DependencyError('postgres', `loading budgets: ${(err as Error).message}`, { cause: err });
    }
    const fingerprint = JSON.stringify([budgets.rows, targets.rows]);
    if (fingerprint === this.fingerprint) return false;
    this.fingerprint = fingerprint;
    this.budgets = new Map(budgets.rows.map((r) => [`${r.persona_id}/${r.period}`, nanoFromNumericText(r.limit_usd)]));
    this.budgeted = new Set(budgets.rows.map((r) => r.persona_id as string));
    this.targets = new Map(targets.rows.map((r) => [r.persona_id as string, nanoFromNumericText(r.target_cost_per_post_usd)]));
    return true;
  }

  budget(personaId: string, period: 'daily' | 'monthly'): bigint | undefined {
    return this.budgeted.has(personaId) ? this.budgets.get(`${personaId}/${period}`) : undefined;
  }

  hasBudget(personaId: string): boolean {
    return this.budgeted.has(personaId);
  }

  postTarget(personaId: string): bigint {
    return this.targets.get(personaId) ?? this.defaultTargetNano;
  }
}
