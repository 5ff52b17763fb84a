import { Decimal, formatUsd, parseDecimal } from '../../src/money';

/**
 * Exact threshold arithmetic. Thresholds are decimals (`units / 10^scale`); amounts are BigInt
 * nano-USD; every comparison is done by cross-multiplying integers, so "exactly 3×" is 3×.
 */
export type { Decimal } from '../../src/money';

export function decimal(text: string): Decimal {
  return parseDecimal(text);
}

function pow10(scale: number): bigint {
  return 10n ** BigInt(scale);
}

/** num / den ≥ d, for den > 0. */
export function ratioAtLeast(num: bigint, den: bigint, d: Decimal): boolean {
  return num * pow10(d.scale) >= d.units * den;
}

/** num / den > d, for den > 0. */
export function ratioAbove(num: bigint, den: bigint, d: Decimal): boolean {
  return num * pow10(d.scale) > d.units * den;
}

/** num / den ≤ d, for den > 0. */
export function ratioAtMost(num: bigint, den: bigint, d: Decimal): boolean {
  return num * pow10(d.scale) <= d.units * den;
}

/** A percentage as a fraction: 30 → 0.30. */
export function percentToFraction(d: Decimal): Decimal {
  return { units: d.units, scale: d.scale + 2 };
}

/** 1 − d. */
export function oneMinus(d: Decimal): Decimal {
  return { units: pow10(d.scale) - d.units, scale: d.scale };
}

/** amount × d, rounded half away from zero to a whole nano-dollar (display of thresholds only). */
export function scaleAmount(amount: bigint, d: Decimal): bigint {
  const den = pow10(d.scale);
  const num = amount * d.units;
  const q = (2n * (num < 0n ? -num : num) + den) / (2n * den);
  return num < 0n ? -q : q;
}

/** amount / d in nano-dollars, rounded half up (display only). */
export function divideAmount(amount: bigint, d: Decimal): bigint {
  if (d.units === 0n) throw new RangeError('division by zero');
  return (2n * amount * pow10(d.scale) + d.units) / (2n * d.units);
}

/** Exact decimal text of a Decimal: {units: 35, scale: 1} → "3.5". */
export function decimalText(d: Decimal): string {
  if (d.scale <= 0) return (d.units * pow10(-d.scale)).toString();
  const negative = d.units < 0n;
  const abs = (negative ? -d.units : d.units).toString().padStart(d.scale + 1, '0');
  const whole = abs.slice(0, abs.length - d.scale);
  const frac = abs.slice(abs.length - d.scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

/** num / den as decimal text with `digits` fractional digits, truncated toward zero. */
export function quotientText(num: bigint, den: bigint, digits = 4): string {
  if (den === 0n) return num === 0n ? '0' : 'Infinity';
  return decimalText({ units: (num * pow10(digits)) / den, scale: digits });
}

/** Cost per action in USD text (nano precision, rounded half up); "Infinity" with no actions. */
export function usdPer(amount: bigint, count: bigint): string {
  if (count === 0n) return 'Infinity';
  return formatUsd((2n * amount + count) / (2n * count));
}
