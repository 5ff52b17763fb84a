import { checkAmountScale, CostEvent, expectedNanoUsd } from '../../src/events';
import { InvalidInputError } from '../../src/errors';
import { priceBookFromConfig } from '../../src/pricing';

const book = priceBookFromConfig({});

function event(patch: Partial<CostEvent>): CostEvent {
  return {
    event_id: 'e', event_time: new Date(), cost_type: 'openai_api', amount: 0n, currency: 'USD', persona_id: 'p', post_id: null, operation: null,
    service: null, correlation_id: null, request_id: null, llm_usage: null, compute_usage: null, vector_db_usage: null,
    price: { source: 's', version: 'v', status: 'priced', unit_prices: {} }, metadata: {}, ...patch,
  };
}

function reason(e: CostEvent): string | undefined {
  try {
    checkAmountScale(e);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return (err as InvalidInputError).reason;
  }
}

describe('amount scale plausibility (amount ≈ usage × the event\'s unit prices × 10^-k)', () => {
  const llm = { provider: 'openai', model: 'gpt-4o', input_tokens: 12_345, output_tokens: 678, cached_input_tokens: 1000 };
  const priced = book.llm('openai', 'gpt-4o', llm.input_tokens, llm.output_tokens, llm.cached_input_tokens);
  const compute = { resource_type: 'kubernetes', cpu_cores: 1_500_000n, memory_gb: 2_000_000n, duration_ms: 3_600_000 };
  const computePriced = book.compute(compute.cpu_cores, compute.memory_gb, compute.duration_ms);
  const vector = { provider: 'generic', operation: 'query', units: 5000 };
  const vectorPriced = book.vectorDb('query', 5000);

  it('finds the price book\'s own amounts consistent (LLM with cached tokens, compute, vector DB)', () => {
    expect(expectedNanoUsd(event({ llm_usage: llm, price: priced.price }))).toBe(priced.nanoUsd);
    expect(reason(event({ llm_usage: llm, amount: priced.nanoUsd, price: priced.price }))).toBeUndefined();
    expect(reason(event({ cost_type: 'kubernetes', compute_usage: compute, amount: computePriced.nanoUsd, price: computePriced.price }))).toBeUndefined();
    expect(reason(event({ cost_type: 'vector_db', vector_db_usage: vector, amount: vectorPriced.nanoUsd, price: vectorPriced.price }))).toBeUndefined();
  });

  it.each([1, 2, 3, 5, 7])('refuses an amount 10^-%i of usage × price', (k) => {
    expect(reason(event({ llm_usage: llm, amount: priced.nanoUsd / 10n ** BigInt(k), price: priced.price }))).toBe('amount.scale_mismatch');
  });

  it('refuses a mis-scaled compute and vector-DB amount too', () => {
    expect(reason(event({ cost_type: 'kubernetes', compute_usage: compute, amount: computePriced.nanoUsd / 1000n, price: computePriced.price }))).toBe('amount.scale_mismatch');
    expect(reason(event({ cost_type: 'vector_db', vector_db_usage: vector, amount: vectorPriced.nanoUsd / 100n, price: vectorPriced.price }))).toBe('amount.scale_mismatch');
  });

  it('leaves other differences alone: a producer\'s discount, rounding, no unit prices, an unknown model, tiny amounts', () => {
    expect(reason(event({ llm_usage: llm, amount: (priced.nanoUsd * 95n) / 100n, price: priced.price }))).toBeUndefined();
    expect(reason(event({ llm_usage: llm, amount: priced.nanoUsd / 2n, price: priced.price }))).toBeUndefined();
    expect(reason(event({ llm_usage: llm, amount: priced.nanoUsd / 10n }))).toBeUndefined();
    expect(reason(event({ llm_usage: llm, amount: priced.nanoUsd / 10n, price: { ...priced.price, status: 'unknown_model' } }))).toBeUndefined();
    const tiny = book.vectorDb('query', 1); // 4,000 nano-USD expected; 1e-6 USD and below is not judged
    expect(reason(event({ cost_type: 'vector_db', vector_db_usage: { ...vector, units: 1 }, amount: 400n, price: tiny.price }))).toBe('amount.scale_mismatch');
    expect(reason(event({ cost_type: 'vector_db', vector_db_usage: { ...vector, units: 0 }, amount: 1n, price: tiny.price }))).toBeUndefined();
  });
});
