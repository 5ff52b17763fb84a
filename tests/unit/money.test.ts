import { formatUsd, nanoUsdFromProduct, parseDecimal, ratio, usdToNano } from '../../src/money';

describe('money', () => {
  it('parses decimal text and JS numbers through their decimal form, never through float arithmetic', () => {
    expect(parseDecimal('0.1')).toEqual({ units: 1n, scale: 1 });
    expect(parseDecimal(0.031611)).toEqual({ units: 31611n, scale: 6 });
    expect(parseDecimal('1e-7')).toEqual({ units: 1n, scale: 7 });
    expect(parseDecimal('2.5E3')).toEqual({ units: 2500n, scale: 0 });
    expect(parseDecimal('-3.25')).toEqual({ units: -325n, scale: 2 });
    expect(() => parseDecimal('abc')).toThrow(RangeError);
    expect(() => parseDecimal(NaN)).toThrow(RangeError);
    expect(() => parseDecimal(Infinity)).toThrow(RangeError);
  });

  it('converts USD to nano-dollars exactly and refuses sub-nano precision', () => {
    expect(usdToNano('0.02')).toBe(20_000_000n);
    expect(usdToNano(0.3)).toBe(300_000_000n);
    // A float that already drifted (0.30000000000000004) is refused rather than silently rounded.
    expect(() => usdToNano(0.1 + 0.2)).toThrow(/precision/);
  });

  it('refuses amounts finer than one nano-dollar', () => {
    expect(() => usdToNano('0.0000000001')).toThrow(/precision/);
    expect(usdToNano('0.0000000010')).toBe(1n);
  });

  it('formats nano-dollars as exact nine-decimal strings', () => {
    expect(formatUsd(7_500_000n)).toBe('0.007500000');
    expect(formatUsd(1n)).toBe('0.000000001');
    expect(formatUsd(-1_500_000_000n)).toBe('-1.500000000');
    expect(formatUsd(123_456_789_012_345_678_901n)).toBe('123456789012.345678901');
  });

  it('formats exactly on both sides of the safe-integer fast path, where a float quotient rounds up', () => {
    const reference = (nano: bigint) => {
      const abs = nano < 0n ? -nano : nano;
      return `${nano < 0n ? '-' : ''}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, '0')}`;
    };
    const max = BigInt(Number.MAX_SAFE_INTEGER);
    const edges = [0n, 999_999_999n, 1_000_000_000n, max, max - 1n, max + 1n, -max, -max - 1n, 8_999_999_999_999_999n, 9_007_199_254_999_999_999n];
    for (const nano of edges) expect(formatUsd(nano)).toBe(reference(nano));
    let seed = 42n;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n;
      const nano = (seed % (2n * max)) - max; // anywhere in the fast path's range
      expect(formatUsd(nano)).toBe(reference(nano));
      // just below a whole dollar, where the quotient is most likely to round up
      const below = (nano / 1_000_000_000n) * 1_000_000_000n - 1n;
      expect(formatUsd(below)).toBe(reference(below));
    }
  });

  it('rounds products half-up once, at the end', () => {
    // 1 token at $0.5 per million tokens = 500 nano-dollars, exactly
    expect(nanoUsdFromProduct([{ units: 5n, scale: 1 }], 1_000_000n)).toBe(500n);
    // 0.5 nano-dollars rounds up, 0.4 rounds down
    expect(nanoUsdFromProduct([{ units: 5n, scale: 10 }])).toBe(1n);
    expect(nanoUsdFromProduct([{ units: 4n, scale: 10 }])).toBe(0n);
    expect(nanoUsdFromProduct([parseDecimal('0.031611'), parseDecimal('0.5')])).toBe(15_805_500n);
  });

  it('sums exactly where binary floating point drifts', () => {
    let nano = 0n;
    let float = 0;
    for (let i = 0; i < 1000; i++) {
      nano += usdToNano('0.1');
      float += 0.1;
    }
    expect(formatUsd(nano)).toBe('100.000000000');
    expect(float).not.toBe(100);
  });

  it('computes display ratios without dividing by zero', () => {
    expect(ratio(3n, 1n)).toBe(3);
    expect(ratio(0n, 0n)).toBe(0);
    expect(ratio(1n, 0n)).toBe(Infinity);
  });
});
