import { InvalidInputError } from '../errors';
import { Decimal, formatUsd, NANO_PER_USD, parseDecimal } from '../money';
import type { CostEvent } from './cost-event';

/**
 * A mis-scaled amount cannot be seen in the Avro bytes: a bytes-decimal carries its scale in the
 * schema, not in the data, so a producer that writes the digits of 1.5 (scale 1) unscaled has
 * written 0.000000015 as far as anyone can tell. It can be seen against the event's own record of
 * prices: when the usage and the unit prices it was priced with are there, the amount should be
 * about usage × price. An amount that is instead that value × 10^-k (k = 1…9, within 1 %) is a
 * decimal written at scale 9 - k, and is refused as `amount.scale_mismatch`. Any other difference
 * (a producer's own discounts or rounding) is left alone; so are events without usage or prices.
 */

/** Below this (1e-6 USD) the expected amount is too small for a ×10 difference to stand out from rounding. */
const MIN_EXPECTED_NANO = 1000n;
const MICRO = 1_000_000n;
const MS_PER_HOUR = 3_600_000n;

const parsed = new Map<string, Decimal | null>();

function unitPrice(prices: Record<string, string>, name: string): Decimal | null | undefined {
  const text = prices[name];
  if (text === undefined) return undefined;
  let d = parsed.get(text);
  if (d === undefined) {
    try {
      d = parseDecimal(text);
    } catch {
      d = null;
    }
    if (parsed.size >= 10_000) parsed.clear();
    parsed.set(text, d);
  }
  return d;
}

/** Σ count × price over up to three terms, in nano-USD, rounded down (only compared within a tolerance). */
function nanoOf(divisor: bigint, n1: bigint, p1: Decimal, n2?: bigint, p2?: Decimal, n3?: bigint, p3?: Decimal): bigint {
  let scale = p1.scale;
  if (p2 && p2.scale > scale) scale = p2.scale;
  if (p3 && p3.scale > scale) scale = p3.scale;
  let units = n1 * p1.units * pow10(scale - p1.scale);
  if (n2 !== undefined && p2) units += n2 * p2.units * pow10(scale - p2.scale);
  if (n3 !== undefined && p3) units += n3 * p3.units * pow10(scale - p3.scale);
  return (units * NANO_PER_USD) / (pow10(scale) * divisor);
}

// Checked on every stored event: exponentiation per term cost more than the rest of the check.
const POWERS_OF_TEN = Array.from({ length: 40 }, (_, i) => 10n ** BigInt(i));
const pow10 = (n: number): bigint => POWERS_OF_TEN[n] ?? 10n ** BigInt(n);

/** The amount the event's usage and recorded unit prices imply, or null when they do not say. */
export function expectedNanoUsd(e: CostEvent): bigint | null {
  if (e.price?.status !== 'priced' || !e.price.unit_prices) return null;
  const prices = e.price.unit_prices;
  if (e.llm_usage) {
    const input = unitPrice(prices, 'input_mtok');
    const output = unitPrice(prices, 'output_mtok');
    const cacheRead = unitPrice(prices, 'cache_read_mtok');
    if (!input || !output || cacheRead === null) return null;
    const u = e.llm_usage;
    const cached = cacheRead ? Math.min(u.cached_input_tokens, u.input_tokens) : 0;
    if (cacheRead && cached > 0) return nanoOf(MICRO, BigInt(u.input_tokens - cached), input, BigInt(u.output_tokens), output, BigInt(cached), cacheRead);
    return nanoOf(MICRO, BigInt(u.input_tokens - cached), input, BigInt(u.output_tokens), output);
  }
  if (e.compute_usage) {
    const cpu = unitPrice(prices, 'cpu_core_hour');
    const mem = unitPrice(prices, 'memory_gb_hour');
    if (!cpu || !mem) return null;
    const ms = BigInt(e.compute_usage.duration_ms);
    return nanoOf(MICRO * MS_PER_HOUR, e.compute_usage.cpu_cores * ms, cpu, e.compute_usage.memory_gb * ms, mem);
  }
  if (e.vector_db_usage) {
    const p = unitPrice(prices, e.vector_db_usage.operation);
    if (!p) return null;
    return nanoOf(1n, BigInt(e.vector_db_usage.units), p);
  }
  return null;
}

const near = (a: bigint, b: bigint, slack: bigint) => (a > b ? a - b : b - a) <= b / 100n + slack;

/** Throws `amount.scale_mismatch` when the amount is usage × price shifted down by 1 to 9 decimal places. */
export function checkAmountScale(e: CostEvent): void {
  if (typeof e.amount !== 'bigint' || e.amount <= 0n) return;
  const expected = expectedNanoUsd(e);
  if (expected === null || expected < MIN_EXPECTED_NANO || near(e.amount, expected, 1n)) return;
  for (let k = 1; k <= 9; k++) {
    const factor = 10n ** BigInt(k);
    if (near(e.amount * factor, expected, factor)) {
      throw new InvalidInputError(
        'amount.scale_mismatch',
        `amount ${formatUsd(e.amount)} is 10^-${k} of what the usage at the event's own unit prices comes to (${formatUsd(expected)}): ` +
          `a decimal written at scale ${9 - k} where the schema says 9; quantize amounts to 9 decimal places before encoding (docs/producers.md)`,
      );
    }
  }
}
