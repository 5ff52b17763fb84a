import { eventConfidenceBp, summarize } from '../../api/accuracy';
import { authorize, parseTokens } from '../../src/http/auth';
import { efficiencyRating, primaryCostType } from '../../api/efficiency';
import { describeValidation } from '../../src/http/errors-handler';
import { CursorSigner } from '../../api/cursor';
import { ApiError } from '../../src/http/http-errors';
import { decodeCursor, encodeCursor, parseDayRange, parseInstant, parseLimit, parseLimitUsd } from '../../api/validation';
import { usdToNano } from '../../src/money';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as ApiError).code;
  }
  return 'no error';
};

describe('attribution confidence', () => {
  it('adds 0.01 per factor to the 0.95 base, caps at 0.99 and gives unpriced events 0.50', () => {
    expect(eventConfidenceBp({ factors: [], priced: true })).toBe(9500);
    expect(eventConfidenceBp({ factors: ['correlation_id', 'request_id', 'usage_specified'], priced: true })).toBe(9800);
    expect(eventConfidenceBp({ factors: ['correlation_id', 'request_id', 'operation_specified', 'usage_specified'], priced: true })).toBe(9900);
    expect(eventConfidenceBp({ factors: ['correlation_id', 'request_id'], priced: false })).toBe(5000);
  });

  it('averages over all events without flooring, rounding half-up to 4 decimals', () => {
    const s = summarize([
      { factors: ['correlation_id', 'request_id'], priced: true, count: 2 }, // 0.97 each
      { factors: [], priced: false, count: 1 }, // 0.50
    ]);
    // (9700*2 + 5000) / 3 = 8133.33 bp → 0.8133
    expect(s).toMatchObject({ accuracy_score: 0.8133, total_events: 3, high_confidence_events: 2, unpriced_events: 1 });
    expect(s.factor_coverage).toEqual({ correlation_id: 2, request_id: 2, operation_specified: 0, usage_specified: 0 });
    expect(summarize([]).accuracy_score).toBeNull();
  });
});

describe('efficiency', () => {
  const target = usdToNano('0.02');
  it('rates exactly at the boundaries', () => {
    expect(efficiencyRating(usdToNano('0.01'), target)).toBe('excellent');
    expect(efficiencyRating(usdToNano('0.010000001'), target)).toBe('good');
    expect(efficiencyRating(usdToNano('0.02'), target)).toBe('good');
    expect(efficiencyRating(usdToNano('0.0234'), target)).toBe('poor');
    expect(efficiencyRating(usdToNano('0.04'), target)).toBe('poor');
    expect(efficiencyRating(usdToNano('0.040000001'), target)).toBe('critical');
  });
  it('picks the largest cost type, or null when nothing was spent', () => {
    expect(primaryCostType({ openai_api: 5n, kubernetes: 7n, vector_db: 1n, other: 0n })).toBe('kubernetes');
    expect(primaryCostType({ openai_api: 0n, kubernetes: 0n, vector_db: 0n, other: 0n })).toBeNull();
  });
});

describe('validation', () => {
  it('accepts ISO dates and zoned timestamps, refuses the rest', () => {
    expect(parseInstant('d', '2025-08-01').toISOString()).toBe('2025-08-01T00:00:00.000Z');
    expect(parseInstant('d', '2025-08-01T12:00:00+02:00').toISOString()).toBe('2025-08-01T10:00:00.000Z');
    for (const bad of ['2025-08-01T12:00:00', '2025-02-30', '2025-13-01', 'yesterday', '2025-08-01T25:00:00Z', '']) {
      expect(code(() => parseInstant('d', bad))).toBe('invalid_date');
    }
  });
  it('turns a range into whole UTC days, refusing inverted and oversized ones', () => {
    expect(parseDayRange('2025-08-01T00:00:00Z', '2025-08-03T23:59:59Z', 366)).toEqual({ startDay: '2025-08-01', endDay: '2025-08-03', days: 3 });
    expect(parseDayRange('2025-08-01', '2025-08-04T00:00:00Z', 366)).toEqual({ startDay: '2025-08-01', endDay: '2025-08-03', days: 3 });
    expect(parseDayRange('2025-08-01', '2025-08-01', 366).days).toBe(1);
    expect(code(() => parseDayRange('2025-08-03', '2025-08-01', 366))).toBe('invalid_range');
    expect(parseDayRange('2024-01-01', '2024-12-31', 366).days).toBe(366);
    expect(code(() => parseDayRange('2024-01-01', '2025-01-01', 366))).toBe('range_too_large');
  });
  it('checks limits, cursors and budget amounts', () => {
    expect(parseLimit(undefined, 100, 1000)).toBe(100);
    expect(parseLimit('1000', 100, 1000)).toBe(1000);
    for (const bad of ['0', '1001', '-1', '1.5', 'ten']) expect(code(() => parseLimit(bad, 100, 1000))).toBe('invalid_limit');
    const c = { timeMicros: '1754000000123456', eventId: 'e-1' };
    const signer = CursorSigner.withKey('unit-test-cursor-key-0123456789abcdef');
    expect(decodeCursor(encodeCursor(c, signer, 'p'), signer, 'p')).toEqual(c);
    expect(code(() => decodeCursor('garbage', signer, 'p'))).toBe('invalid_cursor');
    expect(parseLimitUsd('125.5')).toBe(125_500_000_000n);
    expect(parseLimitUsd('0.000000001')).toBe(1n);
    for (const bad of ['0', '1.0000000001', '-5', 12, '1e3', '', '100000000000']) expect(code(() => parseLimitUsd(bad))).toBe('invalid_limit_usd');
  });
});

describe('auth', () => {
  const tokens = parseTokens({ API_TOKENS: JSON.stringify([{ token: 'reader-token-1', scopes: ['read'], name: 'r' }]), API_OPERATOR_TOKENS: 'operator-token-1' });
  it('answers 401 for missing or unknown tokens and 403 for a missing scope', () => {
    expect(authorize(undefined, tokens, 'read')).toMatchObject({ ok: false, status: 401 });
    expect(authorize('Basic abc', tokens, 'read')).toMatchObject({ ok: false, status: 401 });
    expect(authorize('Bearer nope-nope-nope', tokens, 'read')).toMatchObject({ ok: false, status: 401 });
    expect(authorize('Bearer reader-token-1', tokens, 'operator')).toMatchObject({ ok: false, status: 403 });
    expect(authorize('Bearer reader-token-1', tokens, 'read')).toMatchObject({ ok: true, principal: { name: 'r' } });
    expect(authorize('Bearer operator-token-1', tokens, 'read')).toMatchObject({ ok: true });
    expect(authorize('Bearer operator-token-1', tokens, 'operator')).toMatchObject({ ok: true });
  });
  it('refuses malformed token configuration with a message saying what to fix', () => {
    expect(() => parseTokens({ API_TOKENS: '{' })).toThrow(/API_TOKENS is not valid JSON/);
    expect(() => parseTokens({ API_TOKENS: '[{"token":"long-enough","scopes":["admin"]}]' })).toThrow(/scopes must be/);
    expect(() => parseTokens({ API_READ_TOKENS: 'short' })).toThrow(/shorter than 8/);
  });
});

describe('validation messages', () => {
  it('names the parameter', () => {
    expect(describeValidation('querystring', { keyword: 'additionalProperties', instancePath: '', params: { additionalProperty: 'foo' } }).message).toBe('unknown query parameter "foo"');
    expect(describeValidation('querystring', { keyword: 'required', instancePath: '', params: { missingProperty: 'start_date' } }).message).toBe('missing required query parameter "start_date"');
  });
});
