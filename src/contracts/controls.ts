/**
 * The contract between the circuit breaker (which decides controls), the SDK's CostGuard (which
 * enforces them) and the query API (which shows them and lets an operator resume a persona).
 *
 * Redis holds the state in force: key `${CONTROL_KEY_PREFIX}${persona_id}` → JSON ControlState,
 * with an expiry; every change is announced on the pub/sub channel CONTROL_CHANNEL with the
 * persona id as the message, published on finops.cost-controls.v1 and audited in Postgres.
 */
export const CONTROL_KEY_PREFIX = 'finops:control:';
export const CONTROL_CHANNEL = 'finops:controls';

/**
 * A control on a budget scope (a team, a model, everything) is held like a persona's, under the
 * subject `scope:<kind>:<value>`: the breaker keys its state by it, and the guard reads the
 * subjects covering a call (the persona, its team, the model, global) and enforces the strictest.
 */
export function scopeSubject(kind: string, value: string): string {
  return `scope:${kind}:${value}`;
}

/** Redis key of a persona's team (kept by the API from the persona_teams table): the guard reads it. */
export const PERSONA_TEAM_KEY_PREFIX = 'finops:persona-team:';

/** Graduated levels, in escalation order. */
export const CONTROL_LEVELS = ['normal', 'throttle', 'switch_model', 'pause', 'page'] as const;
export type ControlLevel = (typeof CONTROL_LEVELS)[number];

export interface ControlState {
  persona_id: string;
  level: ControlLevel;
  /** Token-bucket rate while throttled (and at higher levels), requests per minute. */
  requests_per_minute: number | null;
  /** Model substitutions in force, e.g. { "gpt-4o": "gpt-3.5-turbo-0125" }. */
  model_map: Record<string, string>;
  /** ISO time until which the persona is paused. */
  paused_until: string | null;
  /** Half-open recovery probing in progress. */
  probing: boolean;
  /** True when an operator set this state by hand. */
  manual: boolean;
  reason: string;
  anomaly_id: string | null;
  updated_at: string;
  /** ISO time after which the control lapses if not renewed. */
  expires_at: string | null;
}

/** What the query API needs from the breaker. Implemented in consumers/breaker/control-admin.ts; app/roles.ts hands it to the API. */
export interface ControlAdmin {
  /** Every persona with a control other than `normal` in force. */
  list(): Promise<ControlState[]>;
  get(personaId: string): Promise<ControlState | null>;
  /** Operator override: back to normal now, audited and published like any transition. */
  resume(personaId: string, actor: string, reason: string): Promise<ControlState>;
  /** Operator override to any level (held until resumed); absent where the admin cannot. */
  override?(personaId: string, level: ControlLevel, actor: string, reason: string): Promise<ControlState>;
  close(): Promise<void>;
}
