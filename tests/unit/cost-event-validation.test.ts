import { CostEvent, validateCostEvent, ValidationLimits } from '../../src/events';
import { InvalidInputError } from '../../src/errors';

const now = Date.parse('2026-06-15T12:00:00Z');
const limits: ValidationLimits = { now, maxFutureSkewMs: 86_400_000, maxPastAgeMs: 400 * 86_400_000, maxMetadataBytes: 1024 };

function event(patch: Partial<CostEvent> = {}): CostEvent {
  return {
    event_id: 'e-1', event_time: new Date(now), cost_type: 'openai_api', amount: 7_500_000n, currency: 'USD', persona_id: 'ai_jesus',
    post_id: 'post-1', operation: 'hook_generation', service: 'orchestrator', correlation_id: 'c', request_id: 'r',
    llm_usage: { provider: 'openai', model: 'gpt-4o', input_tokens: 1000, output_tokens: 500, cached_input_tokens: 0 },
    compute_usage: null, vector_db_usage: null,
    price: { source: 's', version: 'v', status: 'priced', unit_prices: {} }, metadata: {}, ...patch,
  };
}

function reason(e: CostEvent): string | undefined {
  try {
    validateCostEvent(e, limits);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return (err as InvalidInputError).reason;
  }
}

describe('validateCostEvent', () => {
  it('accepts a well-formed event', () => expect(reason(event())).toBeUndefined());

  it.each<[string, Partial<CostEvent>, string]>([
    ['missing event id', { event_id: '' }, 'event_id.missing'],
    ['missing persona', { persona_id: '' }, 'persona_id.missing'],
    ['negative amount', { amount: -1n }, 'amount.negative'],
    ['overflowing amount', { amount: 10n ** 20n }, 'amount.overflow'],
    ['time far in the future', { event_time: new Date(now + 2 * 86_400_000) }, 'event_time.future'],
    ['time far in the past', { event_time: new Date(now - 401 * 86_400_000) }, 'event_time.too_old'],
    ['invalid time', { event_time: new Date(NaN) }, 'event_time.invalid'],
    ['control characters in an id', { post_id: 'post\u0000;DROP TABLE' }, 'post_id.control_characters'],
    ['an id longer than 255 characters', { persona_id: 'x'.repeat(256) }, 'persona_id.too_long'],
    ['a currency other than USD', { currency: 'EUR' }, 'currency.unsupported'],
    ['oversized metadata', { metadata: { blob: 'x'.repeat(2000) } }, 'metadata.too_large'],
    ['NUL in metadata', { metadata: { k: 'a\u0000b' } }, 'metadata.nul_character'],
    ['negative token count', { llm_usage: { provider: 'openai', model: 'gpt-4o', input_tokens: -5, output_tokens: 1, cached_input_tokens: 0 } }, 'llm_usage.input_tokens.invalid'],
  ])('refuses %s', (_name, patch, expected) => {
    expect(reason(event(patch))).toBe(expected);
  });

  it('accepts hostile-looking but printable text, which is stored as data, never as SQL', () => {
    expect(reason(event({ post_id: "x'); DROP TABLE cost_events; --", operation: '<script>alert(1)</script>', metadata: { 'ü': '😀\\t' } }))).toBeUndefined();
  });
});
