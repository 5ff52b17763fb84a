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

  it("is within 1 nano-USD of every amount the price book computes from usage without cache writes, so the SDK may skip it for those", () => {
    // validateCostEvent(e, limits, pricedFromUsage = true) relies on this: rounding where this check truncates.
    const overrides = priceBookFromConfig({
      PRICING_MODEL_OVERRIDES: JSON.stringify({ 'odd-model': { input_mtok: '0.0375', output_mtok: '1.1', cache_read_mtok: '0.003' } }),
      PRICING_VECTOR_DB_USD_PER_UNIT: JSON.stringify({ query: '0.0000004', upsert: '0.00002' }),
      PRICING_CPU_USD_PER_CORE_HOUR: '0.0316115', PRICING_MEMORY_USD_PER_GB_HOUR: '0.00423',
    });
    let checked = 0;
    for (const b of [book, overrides]) {
      for (let i = 0; i < 400; i++) {
        const n = (i * 7919) % 1_000_003;
        for (const [provider, model] of [['openai', 'gpt-4o'], ['openai', 'gpt-4o-mini'], ['anthropic', 'claude-3-5-sonnet-latest'], ['openai', 'odd-model']]) {
          const u = { provider, model, input_tokens: n, output_tokens: (n * 13) % 50_000, cached_input_tokens: i % 3 ? (n * 3) % (n + 1) : 0 };
          const p = b.llm(provider, model, u.input_tokens, u.output_tokens, u.cached_input_tokens);
          const expected = expectedNanoUsd(event({ llm_usage: u, price: p.price }));
          if (expected === null) continue;
          expect(p.nanoUsd - expected >= 0n && p.nanoUsd - expected <= 1n).toBe(true);
          checked++;
        }
        const c = { resource_type: 'kubernetes', cpu_cores: BigInt(n * 17), memory_gb: BigInt(n * 29 + 1), duration_ms: 1 + ((n * 31) % 86_400_000) };
        const cp = b.compute(c.cpu_cores, c.memory_gb, c.duration_ms);
        const ce = expectedNanoUsd(event({ cost_type: 'kubernetes', compute_usage: c, price: cp.price }))!;
        expect(cp.nanoUsd - ce >= 0n && cp.nanoUsd - ce <= 1n).toBe(true);
        for (const operation of ['query', 'upsert']) {
          const v = { provider: 'generic', operation, units: n };
          const vp = b.vectorDb(operation, n);
          const ve = expectedNanoUsd(event({ cost_type: 'vector_db', vector_db_usage: v, price: vp.price }));
          if (ve === null) continue;
          expect(vp.nanoUsd - ve >= 0n && vp.nanoUsd - ve <= 1n).toBe(true);
        }
        checked += 2;
      }
    }
    expect(checked).toBeGreaterThan(3000);
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
