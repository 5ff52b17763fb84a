import { createHash } from 'node:crypto';
import { CONTROL_LEVELS, ControlLevel, ControlState } from '../../src/contracts/controls';
import { AnomalyFields, AnomalyMeasure, Severity, severityRank } from '../../src/contracts/anomaly';
import { parseDecimal } from '../../src/money';

/**
 * The circuit breaker's decisions, as a pure function of (state, input, config). No I/O, no clock:
 * the caller passes `now`. The I/O around it (Redis, Kafka, Postgres) lives in control-store.ts.
 *
 *   normal ──trigger──▶ throttle ──trigger──▶ switch_model ──trigger──▶ pause ──trigger──▶ page
 *     ▲                    │ (escalations at least `escalateMinIntervalMs` apart)     │
 *     │              all triggers resolved, or no trigger for `cooldownMs`,          │
 *     │              or the pause ran out                                            │
 *     │                    ▼                                                          │
 *     └──probe passed── probing (half-open: probe rpm, no model switch) ◀─────────────┘
 *                          │ a trigger while probing ──▶ back to the level it left (reopen)
 */

export const LEVELS: readonly ControlLevel[] = CONTROL_LEVELS;

export function levelRank(level: ControlLevel): number {
  return LEVELS.indexOf(level);
}

function nextLevel(level: ControlLevel): ControlLevel {
  return LEVELS[Math.min(LEVELS.length - 1, levelRank(level) + 1)];
}

const higher = (a: ControlLevel, b: ControlLevel) => (levelRank(a) >= levelRank(b) ? a : b);

const isPausing = (level: ControlLevel) => level === 'pause' || level === 'page';

export interface BreakerConfig {
  spikeMultiplier: number;
  budgetPercent: number;
  /** Budget use at which the persona is paused at once (the budget is spent), in percent. */
  budgetPausePercent: number;
  roiPercent: number;
  throttleRpm: Record<Severity, number>;
  modelMap: Record<string, string>;
  pauseMs: number;
  escalateMinIntervalMs: number;
  cooldownMs: number;
  probeMs: number;
  probeRpm: number;
  controlTtlMs: number;
  /** Bound on anomaly ids remembered per persona (replay guard). */
  maxTrackedAnomalies: number;
}

/** Bound on anomaly ids a persona's breaker remembers (replay guard); not a setting. */
export const MAX_TRACKED_ANOMALIES = 64;

export interface BreakerState {
  persona_id: string;
  /** Transitions made since `epoch`; with it, gives each transition a deterministic id. */
  version: number;
  epoch: number;
  level: ControlLevel;
  severity: Severity | null;
  reason: string;
  anomaly_id: string | null;
  level_since: number;
  last_trigger_at: number | null;
  paused_until: number | null;
  probing: boolean;
  probe_until: number | null;
  /** The level a failed probe returns to. */
  reopen_level: ControlLevel | null;
  manual: boolean;
  /** Open triggering anomalies: id → last sequence. */
  open: Record<string, number>;
  /** Every anomaly id applied recently → last sequence applied (a redelivery changes nothing). */
  seen: Record<string, number>;
}

export type AnomalyInput = Pick<AnomalyFields, 'anomaly_id' | 'sequence' | 'status' | 'severity' | 'observed' | 'baseline' | 'multiplier'> & AnomalyMeasure & {
  /** `details.control`: the level a scoped budget's threshold asks for (see configuredLevel). */
  details?: Record<string, string>;
};

/** The control level a scoped budget threshold configured for its scope, if any. */
export function configuredLevel(a: AnomalyInput): ControlLevel | null {
  const c = a.details?.control;
  return c === 'throttle' || c === 'switch_model' || c === 'pause' || c === 'page' ? c : null;
}

export type BreakerInput =
  | { kind: 'anomaly'; anomaly: AnomalyInput; now: number }
  | { kind: 'tick'; now: number }
  | { kind: 'override'; level: ControlLevel; actor: string; reason: string; now: number }
  | { kind: 'resume'; actor: string; reason: string; now: number };

export type Cause = 'trigger' | 'escalate' | 'tighten' | 'reopen' | 'probe' | 'recover' | 'override' | 'resume';

export interface Transition {
  transition_id: string;
  persona_id: string;
  from_level: ControlLevel;
  to_level: ControlLevel;
  cause: Cause;
  reason: string;
  actor: string;
  anomaly_id: string | null;
  anomaly_sequence: number | null;
  at: number;
  /** A human must be paged (entering `page`). */
  page: boolean;
  control: ControlState;
}

export interface StepResult {
  state: BreakerState;
  transition: Transition | null;
  /** The state must be saved (a transition, or the replay guard learnt an id). */
  changed: boolean;
}

export function initialState(personaId: string, now: number): BreakerState {
  return {
    persona_id: personaId, version: 0, epoch: now, level: 'normal', severity: null, reason: '', anomaly_id: null,
    level_since: now, last_trigger_at: null, paused_until: null, probing: false, probe_until: null, reopen_level: null,
    manual: false, open: {}, seen: {},
  };
}

/** part ÷ whole ≥ percent %, compared exactly from decimal texts; false when whole ≤ 0 or a text is no decimal. */
function ratioAtLeastPercent(part: string, whole: string, percent: number): boolean {
  let p, w, c;
  try {
    [p, w, c] = [parseDecimal(part), parseDecimal(whole), parseDecimal(percent)];
  } catch {
    return false;
  }
  if (w.units <= 0n) return false;
  const pow = (n: number) => 10n ** BigInt(n);
  return p.units * 100n * pow(w.scale + c.scale) >= c.units * w.units * pow(p.scale);
}

/**
 * Budget use (spend ÷ budget) at least `percent` %: exactly from `observed` (spend) and `baseline`
 * (the budget), both USD (src/contracts/anomaly.ts); from the use ratio in `multiplier` without a budget.
 */
function budgetUseAtLeast(a: AnomalyInput & { anomaly_type: 'budget_threshold' }, percent: number): boolean {
  if (a.baseline !== null) return ratioAtLeastPercent(a.observed, a.baseline, percent);
  return a.multiplier !== null && a.multiplier * 100 >= percent;
}

/** Does this anomaly call for a control? Seed triggers: spike ≥ 3×, budget ≥ 90 %, ROI ≤ −60 %, any critical. */
export function isTrigger(a: AnomalyInput, cfg: BreakerConfig): boolean {
  if (a.status === 'resolved') return false;
  if (configuredLevel(a)) return true;
  if (a.severity === 'critical') return true;
  switch (a.anomaly_type) {
    case 'cost_spike':
      return a.multiplier !== null && a.multiplier >= cfg.spikeMultiplier;
    case 'budget_threshold':
      return budgetUseAtLeast(a, cfg.budgetPercent);
    case 'negative_roi':
      return Number(a.observed) <= cfg.roiPercent;
    default:
      return false;
  }
}

/** The lowest level a trigger puts the persona at: a spent budget pauses at once, anything else throttles. */
export function triggerLevel(a: AnomalyInput, cfg: BreakerConfig): ControlLevel {
  return a.anomaly_type === 'budget_threshold' && budgetUseAtLeast(a, cfg.budgetPausePercent) ? 'pause' : 'throttle';
}

/** The control in force for a breaker state: what the SDK guard enforces. */
export function toControl(s: BreakerState, cfg: BreakerConfig, now: number): ControlState {
  const active = s.level !== 'normal';
  const rpm = !active ? null : s.probing ? cfg.probeRpm : cfg.throttleRpm[s.severity ?? 'medium'];
  const switching = !s.probing && levelRank(s.level) >= levelRank('switch_model');
  const pausedUntil = isPausing(s.level) && s.paused_until ? s.paused_until : null;
  return {
    persona_id: s.persona_id,
    level: s.level,
    requests_per_minute: rpm,
    model_map: switching ? { ...cfg.modelMap } : {},
    paused_until: pausedUntil ? new Date(pausedUntil).toISOString() : null,
    probing: s.probing,
    manual: s.manual,
    reason: s.reason,
    anomaly_id: s.anomaly_id,
    updated_at: new Date(now).toISOString(),
    expires_at: active ? new Date(Math.max(now, pausedUntil ?? now) + cfg.controlTtlMs).toISOString() : null,
  };
}

function remember(map: Record<string, number>, id: string, seq: number, max: number): Record<string, number> {
  const out = { ...map };
  delete out[id];
  out[id] = seq;
  const keys = Object.keys(out);
  for (let i = 0; i < keys.length - max; i++) delete out[keys[i]];
  return out;
}

function describe(a: AnomalyInput): string {
  const m = a.multiplier != null ? ` ${a.multiplier.toFixed(2)}x` : '';
  return `${a.severity} ${a.anomaly_type}${m} (observed ${a.observed} ${a.unit})`;
}

interface Move {
  to: ControlLevel;
  cause: Cause;
  reason: string;
  actor?: string;
  anomaly?: AnomalyInput;
  patch?: Partial<BreakerState>;
}

function move(s: BreakerState, m: Move, cfg: BreakerConfig, now: number): StepResult {
  const from = s.level;
  const next: BreakerState = {
    ...s,
    ...m.patch,
    level: m.to,
    reason: m.reason,
    version: s.version + 1,
    level_since: from === m.to && m.cause === 'tighten' ? s.level_since : now,
  };
  if (m.anomaly) next.anomaly_id = m.anomaly.anomaly_id;
  if (isPausing(m.to) && !isPausing(from) && !next.paused_until) next.paused_until = now + cfg.pauseMs;
  if (!isPausing(m.to)) next.paused_until = null;
  if (m.to === 'normal') Object.assign(next, { severity: null, open: {}, probing: false, probe_until: null, reopen_level: null, anomaly_id: null, last_trigger_at: null });
  const transition_id = createHash('sha256').update(`${s.persona_id}|${s.epoch}|${next.version}`).digest('hex').slice(0, 32);
  return {
    state: next,
    changed: true,
    transition: {
      transition_id,
      persona_id: s.persona_id,
      from_level: from,
      to_level: m.to,
      cause: m.cause,
      reason: m.reason,
      actor: m.actor ?? 'breaker',
      anomaly_id: m.anomaly?.anomaly_id ?? next.anomaly_id,
      anomaly_sequence: m.anomaly?.sequence ?? null,
      at: now,
      page: m.to === 'page' && from !== 'page',
      control: toControl(next, cfg, now),
    },
  };
}

const none = (state: BreakerState, changed = false): StepResult => ({ state, transition: null, changed });

function startProbe(s: BreakerState, cfg: BreakerConfig, now: number, why: string): StepResult {
  return move(s, {
    to: 'throttle',
    cause: 'probe',
    reason: `half-open: probing at ${cfg.probeRpm} req/min (${why})`,
    patch: { probing: true, probe_until: now + cfg.probeMs, reopen_level: s.level, paused_until: null },
  }, cfg, now);
}

function onAnomaly(s0: BreakerState, a: AnomalyInput, cfg: BreakerConfig, now: number): StepResult {
  if ((s0.seen[a.anomaly_id] ?? 0) >= a.sequence) return none(s0);
  const s: BreakerState = { ...s0, seen: remember(s0.seen, a.anomaly_id, a.sequence, cfg.maxTrackedAnomalies) };

  if (a.status === 'resolved') {
    if (!(a.anomaly_id in s.open)) return none(s, true);
    const open = { ...s.open };
    delete open[a.anomaly_id];
    const next = { ...s, open };
    const canProbe = next.level !== 'normal' && !next.manual && !next.probing && !isPausing(next.level) && Object.keys(open).length === 0;
    return canProbe ? startProbe(next, cfg, now, `anomaly ${a.anomaly_id} resolved`) : none(next, true);
  }
  if (!isTrigger(a, cfg)) return none(s, true);

  const severity = s.severity && severityRank(s.severity) >= severityRank(a.severity) ? s.severity : a.severity;
  const s1: BreakerState = { ...s, open: remember(s.open, a.anomaly_id, a.sequence, cfg.maxTrackedAnomalies), last_trigger_at: now, severity };
  const why = describe(a);

  const floor = triggerLevel(a, cfg);

  if (s1.manual && s1.level !== 'normal') return none(s1, true); // an operator holds this persona
  const want = configuredLevel(a);
  if (want && !s1.probing) {
    // A budget threshold names its level: go there at once (no stepping), never down.
    if (levelRank(want) <= levelRank(s1.level)) return none(s1, true);
    const cause: Cause = s1.level === 'normal' ? 'trigger' : 'escalate';
    return move(s1, { to: want, cause, reason: `${want} as configured for the budget: ${why}`, anomaly: a, patch: { manual: false } }, cfg, now);
  }
  if (s1.level === 'normal') return move(s1, { to: floor, cause: 'trigger', reason: `${floor === 'pause' ? 'paused' : 'throttled'}: ${why}`, anomaly: a, patch: { manual: false } }, cfg, now);
  if (s1.probing) {
    const back = higher(s1.reopen_level ?? 'throttle', floor);
    return move(s1, {
      to: back, cause: 'reopen', reason: `probe failed, back to ${back}: ${why}`, anomaly: a,
      patch: { probing: false, probe_until: null, reopen_level: null, paused_until: isPausing(back) ? now + cfg.pauseMs : null },
    }, cfg, now);
  }
  if (levelRank(s1.level) < levelRank(floor)) return move(s1, { to: floor, cause: 'escalate', reason: `budget spent, ${floor}: ${why}`, anomaly: a }, cfg, now);
  if (s1.level !== 'page' && now - s1.level_since >= cfg.escalateMinIntervalMs) {
    const to = nextLevel(s1.level);
    return move(s1, { to, cause: 'escalate', reason: `spend still rising, ${to}: ${why}`, anomaly: a }, cfg, now);
  }
  if (severity !== s.severity && cfg.throttleRpm[severity] !== cfg.throttleRpm[s.severity ?? 'medium']) {
    return move(s1, { to: s1.level, cause: 'tighten', reason: `severity now ${severity}: ${why}`, anomaly: a }, cfg, now);
  }
  return none(s1, true);
}

function onTick(s: BreakerState, cfg: BreakerConfig, now: number): StepResult {
  if (s.level === 'normal' || s.manual) return none(s);
  if (isPausing(s.level) && s.paused_until !== null && now >= s.paused_until) return startProbe(s, cfg, now, 'pause ended');
  if (s.probing && s.probe_until !== null && now >= s.probe_until) {
    return move(s, { to: 'normal', cause: 'recover', reason: 'recovered: no trigger during the probe' }, cfg, now);
  }
  if (!s.probing && !isPausing(s.level) && s.last_trigger_at !== null && now - s.last_trigger_at >= cfg.cooldownMs) {
    return startProbe(s, cfg, now, `no trigger for ${Math.round(cfg.cooldownMs / 1000)} s`);
  }
  return none(s);
}

/** One step of the breaker for one persona. */
export function step(state: BreakerState | null, personaId: string, input: BreakerInput, cfg: BreakerConfig): StepResult {
  const s = state ?? initialState(personaId, input.now);
  switch (input.kind) {
    case 'anomaly':
      return onAnomaly(s, input.anomaly, cfg, input.now);
    case 'tick':
      return onTick(s, cfg, input.now);
    case 'override': {
      const reason = `manual override by ${input.actor}: ${input.reason}`;
      return move(s, {
        to: input.level, cause: 'override', reason, actor: input.actor,
        patch: { manual: input.level !== 'normal', probing: false, probe_until: null, reopen_level: null, severity: s.severity ?? 'high', paused_until: isPausing(input.level) ? input.now + cfg.pauseMs : null },
      }, cfg, input.now);
    }
    case 'resume':
      return move(s, { to: 'normal', cause: 'resume', reason: `resumed by ${input.actor}: ${input.reason}`, actor: input.actor, patch: { manual: true } }, cfg, input.now);
  }
}
