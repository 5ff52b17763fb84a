/**
 * Exact money. Amounts are integers of nano-dollars (1e-9 USD) held in BigInt; decimal inputs
 * (prices, CPU cores, durations) are parsed from their decimal text, never through binary floating
 * point arithmetic. The only rounding is `nanoUsdFromProduct`, half-up to the nearest nano-dollar.
 */

export const NANO_PER_USD = 1_000_000_000n;
/** Largest amount one event may carry: matches NUMERIC(20,9) in Postgres (< 1e11 USD). */
export const MAX_EVENT_NANO_USD = 10n ** 20n - 1n;

/** An exact decimal: `units / 10^scale`. */
export interface Decimal {
  units: bigint;
  scale: number;
}

const DECIMAL_RE = /^([+-])?(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/**
 * Parses a decimal from text or a JS number. A number is read through its shortest round-trip
 * decimal form (`String(0.1)` is "0.1"), which is the value the caller wrote.
 */
export function parseDecimal(value: string | number | bigint): Decimal {
  if (typeof value === 'bigint') return { units: value, scale: 0 };
  if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError(`not a finite number: ${value}`);
  const text = String(value).trim();
  const m = DECIMAL_RE.exec(text);
  if (!m) throw new RangeError(`not a decimal number: ${JSON.stringify(text)}`);
  const [, sign, whole, frac = '', exp = '0'] = m;
  let units = BigInt(whole + frac);
  let scale = frac.length - Number(exp);
  if (scale < 0) {
    units *= 10n ** BigInt(-scale);
    scale = 0;
  }
  if (sign === '-') units = -units;
  return { units, scale };
}

export function roundHalfUpDiv(numerator: bigint, denominator: bigint): bigint {
  if (denominator <= 0n) throw new RangeError('denominator must be positive');
  const negative = numerator < 0n;
  const abs = negative ? -numerator : numerator;
  const q = (abs * 2n + denominator) / (denominator * 2n);
  return negative ? -q : q;
}

/** USD amount = product of the factors / divisor, in nano-dollars, rounded half-up. */
export function nanoUsdFromProduct(factors: Decimal[], divisor: bigint = 1n): bigint {
  let units = NANO_PER_USD;
  let scale = 0;
  for (const f of factors) {
    units *= f.units;
    scale += f.scale;
  }
  return roundHalfUpDiv(units, 10n ** BigInt(scale) * divisor);
}

/** Exact conversion of a USD decimal with at most 9 fractional digits; more digits is an error. */
export function usdToNano(value: string | number): bigint {
  const d = parseDecimal(value);
  if (d.scale > 9) {
    const factor = 10n ** BigInt(d.scale - 9);
    if (d.units % factor !== 0n) throw new RangeError(`${value} USD has more precision than 1e-9`);
    return d.units / factor;
  }
  return d.units * 10n ** BigInt(9 - d.scale);
}

/** Formats nano-dollars as an exact USD decimal string with nine fractional digits. */
export function formatUsd(nano: bigint): string {
  return formatFixed(nano, 9);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const SCALES = Array.from({ length: 16 }, (_, i) => ({ number: 10 ** i, bigint: 10n ** BigInt(i) }));

/**
 * `units` at `digits` decimal places (units of 10^-digits) as an exact decimal string. Below 2^53
 * (nearly every amount) the arithmetic is on numbers, exact because every step stays an integer
 * below 2^53 (the quotient is corrected where the float division rounded it up); above, BigInt.
 */
export function formatFixed(units: bigint, digits: number): string {
  const scale = SCALES[digits];
  const negative = units < 0n;
  let whole: number | bigint;
  let frac: number | bigint;
  if (units >= -MAX_SAFE && units <= MAX_SAFE) {
    const abs = Math.abs(Number(units));
    whole = Math.trunc(abs / scale.number);
    frac = abs - whole * scale.number;
    if (frac < 0) {
      whole -= 1;
      frac += scale.number;
    }
  } else {
    const abs = negative ? -units : units;
    whole = abs / scale.bigint;
    frac = abs % scale.bigint;
  }
  const fracText = String(frac);
  return `${negative ? '-' : ''}${whole}.${fracText.length < digits ? '0'.repeat(digits - fracText.length) + fracText : fracText}`;
}

/** Parses a Postgres NUMERIC text (or any USD decimal string) to nano-dollars, exactly. */
export function nanoFromNumericText(text: string | null | undefined): bigint {
  if (text === null || text === undefined) return 0n;
  return usdToNano(text);
}

export function sumNano(values: Iterable<bigint>): bigint {
  let total = 0n;
  for (const v of values) total += v;
  return total;
}

/** A ratio of two amounts as a JS number, for display and thresholds only (never summed). */
export function ratio(numerator: bigint, denominator: bigint): number {
  if (denominator === 0n) return numerator === 0n ? 0 : Infinity;
  // Scale to keep 12 significant digits before converting.
  const scaled = (numerator * 1_000_000_000_000n) / denominator;
  return Number(scaled) / 1e12;
}
