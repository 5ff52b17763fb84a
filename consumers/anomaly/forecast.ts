/**
 * Burn-rate forecast of a budget's spend at the end of its period, in event time.
 *
 * Method: a discounted least-squares line through the spend per minute (minutes without spend count
 * as zero; weights halve every `halfLifeMinutes`, 4 h by default), i.e. an exponentially weighted
 * rate with its trend (Brown's linear smoothing). The rate now is the line's value now; the
 * projection to the period end sums the line over the minutes left, never below zero per minute.
 * The band is a 90 % interval: the minute-to-minute noise over the N minutes left (N·σ²) plus the
 * uncertainty of the fitted line carried over them (from the weighted normal equations), σ² being
 * the weighted residual variance. Memory: eight numbers per budget.
 *
 * The forecast is a statistic, not money: it is computed in floating-point nano-dollars and shown
 * rounded; the spend it starts from is the exact sum.
 */
export interface ForecastState {
  /** Minute index (event time / 60 000) being accumulated; -1 before any spend. */
  minute: number;
  /** Spend in that minute so far, nano-USD. */
  acc: number;
  /** Minute index the line's time axis starts at. */
  origin: number;
  s0: number;
  s1: number;
  s2: number;
  sx: number;
  sxt: number;
  sxx: number;
  /** Minutes folded in so far. */
  minutes: number;
}

export interface ForecastParams {
  halfLifeMinutes: number;
}

export const DEFAULT_FORECAST: ForecastParams = { halfLifeMinutes: 240 };

const MINUTE = 60_000;
/** A gap longer than this (minutes) is folded as this many zero minutes: bounded work per event. */
const MAX_GAP = 1440;
const Z90 = 1.645;

export function newForecast(): ForecastState {
  return { minute: -1, acc: 0, origin: 0, s0: 0, s1: 0, s2: 0, sx: 0, sxt: 0, sxx: 0, minutes: 0 };
}

function fold(f: ForecastState, minute: number, x: number, decay: number): void {
  const t = minute - f.origin;
  f.s0 = f.s0 * decay + 1;
  f.s1 = f.s1 * decay + t;
  f.s2 = f.s2 * decay + t * t;
  f.sx = f.sx * decay + x;
  f.sxt = f.sxt * decay + x * t;
  f.sxx = f.sxx * decay + x * x;
  f.minutes++;
}

const decayOf = (p: ForecastParams) => Math.pow(0.5, 1 / p.halfLifeMinutes);

/** Adds spend at event time t (ms); spend of minutes before the one held is added to it. */
export function observeSpend(f: ForecastState, t: number, amountNano: number, p: ForecastParams = DEFAULT_FORECAST): void {
  const m = Math.floor(t / MINUTE);
  if (f.minute < 0) {
    f.minute = m;
    f.origin = m;
  } else if (m > f.minute) {
    const decay = decayOf(p);
    fold(f, f.minute, f.acc, decay);
    const gap = Math.min(m - f.minute - 1, MAX_GAP);
    for (let i = 1; i <= gap; i++) fold(f, m - gap - 1 + i, 0, decay);
    f.minute = m;
    f.acc = 0;
  }
  f.acc += amountNano;
}

interface Line {
  a: number;
  b: number;
  variance: number;
  det: number;
}

function line(f: ForecastState): Line {
  const det = f.s0 * f.s2 - f.s1 * f.s1;
  if (f.minutes < 3 || det <= 1e-9 * f.s0 * f.s2) {
    const a = f.s0 > 0 ? f.sx / f.s0 : 0;
    return { a, b: 0, variance: f.s0 > 1 ? Math.max(0, f.sxx / f.s0 - a * a) : 0, det: 0 };
  }
  const b = (f.s0 * f.sxt - f.s1 * f.sx) / det;
  const a = (f.sx - b * f.s1) / f.s0;
  const sse = Math.max(0, f.sxx - a * f.sx - b * f.sxt);
  return { a, b, variance: sse / Math.max(1, f.s0 - 2), det };
}

export interface Forecast {
  /** Projected spend at the period end, nano-USD, and its 90 % band. */
  expected: number;
  low: number;
  high: number;
  /** When the expected path reaches the limit, or null if not before the period end. */
  exhaustionAt: number | null;
  /** Spend per minute now on the fitted line, nano-USD. */
  ratePerMinute: number;
  minutes: number;
}

/** The projection from `spent` at event time `now` to `periodEnd`. */
export function project(f: ForecastState, spent: number, limit: number, now: number, periodEnd: number): Forecast {
  const n = Math.max(0, (periodEnd - now) / MINUTE);
  const { a, b, variance, det } = line(f);
  const tau = now / MINUTE - f.origin;
  const level = a + b * tau;
  let extra: number;
  if (b >= 0 || level + n * b >= 0) {
    extra = n * level + (b * n * (n + 1)) / 2;
  } else {
    const k0 = Math.max(0, Math.floor(-level / b)); // the line reaches zero there
    extra = k0 * level + (b * k0 * (k0 + 1)) / 2;
  }
  extra = Math.max(0, extra);
  // Var(n·â + T·b̂) from the weighted normal equations, T = Σ τ_k over the minutes left.
  const T = n * tau + (n * (n + 1)) / 2;
  const lineVar = det > 0 ? (variance * (n * n * f.s2 - 2 * n * T * f.s1 + T * T * f.s0)) / det : (variance * n * n) / Math.max(1, f.s0);
  const sd = Math.sqrt(Math.max(0, n * variance + lineVar));
  const expected = spent + extra;
  return {
    expected, low: Math.max(spent, expected - Z90 * sd), high: expected + Z90 * sd,
    exhaustionAt: exhaustion(level, b, spent, limit, now, n), ratePerMinute: Math.max(0, level), minutes: f.minutes,
  };
}

function exhaustion(level: number, trend: number, spent: number, limit: number, now: number, n: number): number | null {
  const left = limit - spent;
  if (left <= 0) return now;
  // Smallest k with Σ_{j=1..k} (level + j·trend) ≥ left: trend/2·k² + (level + trend/2)·k − left = 0.
  let k: number;
  if (Math.abs(trend) < 1e-12) {
    if (level <= 0) return null;
    k = left / level;
  } else {
    const qa = trend / 2;
    const qb = level + trend / 2;
    const disc = qb * qb + 4 * qa * left;
    if (disc < 0) return null;
    k = (-qb + Math.sqrt(disc)) / (2 * qa);
    if (!(k > 0) || level + Math.ceil(k) * trend <= 0) return null;
  }
  if (k > n) return null;
  return Math.round(now + k * MINUTE);
}
