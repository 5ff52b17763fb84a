import { PriceBook, PriceBookOptions } from '../../src/pricing';
import { UnknownModelError } from '../../src/errors';

const options: PriceBookOptions = {
  unknownModel: 'flag',
  modelOverrides: {},
  cpuUsdPerCoreHour: '0.031611',
  memoryUsdPerGbHour: '0.004237',
  vectorDbUsdPerUnit: { query: '0.000004', upsert: '0.000002' },
};

describe('PriceBook', () => {
  const book = new PriceBook(options);

  it('prices OpenAI tokens from @pydantic/genai-prices exactly and records the prices used', () => {
    // gpt-4o: $2.50 per million input tokens, $10 per million output tokens
    const r = book.llm('openai', 'gpt-4o', 1000, 500);
    expect(r.nanoUsd).toBe(7_500_000n);
    expect(r.price).toMatchObject({ source: '@pydantic/genai-prices', status: 'priced', unit_prices: { input_mtok: '2.5', output_mtok: '10' } });
    expect(r.price.version).toMatch(/^\d+\.\d+\.\d+:openai\/gpt-4o$/);
  });

  it('resolves dated model names and the fallback target of the circuit breaker', () => {
    expect(book.llm('openai', 'gpt-3.5-turbo-0125', 1_000_000, 1_000_000).nanoUsd).toBe(2_000_000_000n); // $0.50 + $1.50
    expect(book.llm('openai', 'gpt-4o-2024-08-06', 1_000_000, 0).nanoUsd).toBe(2_500_000_000n);
  });

  it('bills cached input tokens at the cache-read rate', () => {
    // 1000 input of which 400 cached: 600 × 2.5 + 400 × 1.25 per million
    expect(book.llm('openai', 'gpt-4o', 1000, 0, 400).nanoUsd).toBe(2_000_000n);
  });

  it('bills Anthropic cache reads and 5-minute and 1-hour cache writes at their own rates', () => {
    // claude-haiku-4-5 per million: input 1, cache read 0.1, cache write 1.25, 1-hour write 2, output 5.
    // 10,000 input = 1,000 read + 2,000 written (5 min) + 500 written (1 h) + 6,500 uncached; 300 output:
    // 1,000×0.1 + 2,000×1.25 + 500×2 + 6,500×1 + 300×5 = 100 + 2,500 + 1,000 + 6,500 + 1,500 = 11,600 µUSD
    const r = book.llm('anthropic', 'claude-haiku-4-5', 10_000, 300, 1000, new Date(), { fiveMinute: 2000, oneHour: 500 });
    expect(r.nanoUsd).toBe(11_600_000n);
    expect(r.price.unit_prices).toMatchObject({ input_mtok: '1', output_mtok: '5', cache_read_mtok: '0.1', cache_write_mtok: '1.25', cache_write_1h_mtok: '2' });
    // Without a cache-write price (gpt-4o) writes are billed as plain input.
    expect(book.llm('openai', 'gpt-4o', 1000, 0, 0, new Date(), { fiveMinute: 1000, oneHour: 0 }).nanoUsd).toBe(2_500_000n);
  });

  it('prices an input-only model (embeddings) and flags it when output tokens are claimed', () => {
    // text-embedding-3-small: $0.02 per million input tokens, no output price
    const r = book.llm('openai', 'text-embedding-3-small', 1_234_567, 0);
    expect(r.nanoUsd).toBe(24_691_340n);
    expect(r.price.unit_prices).toEqual({ input_mtok: '0.02' });
    expect(book.llm('openai', 'text-embedding-3-small', 10, 1).price.status).toBe('unknown_model');
  });

  it('flags an unknown model instead of pricing it at $0 silently, or rejects it when configured', () => {
    const flagged = book.llm('openai', 'definitely-not-a-model', 10, 10);
    expect(flagged.price.status).toBe('unknown_model');
    expect(flagged.nanoUsd).toBe(0n);
    const strict = new PriceBook({ ...options, unknownModel: 'reject' });
    expect(() => strict.llm('openai', 'definitely-not-a-model', 10, 10)).toThrow(UnknownModelError);
  });

  it('applies configured overrides before the price table', () => {
    const custom = new PriceBook({ ...options, modelOverrides: { 'gpt-4o': { input_mtok: '1', output_mtok: '3.333333333' } } });
    const r = custom.llm('openai', 'gpt-4o', 3, 3);
    // 3 × $1/M + 3 × $3.333333333/M = 3e-6 + 9.999999999e-6 → 12.999999999 µUSD → 13000 nano after half-up rounding
    expect(r.nanoUsd).toBe(13_000n);
    expect(r.price).toMatchObject({ source: 'override', unit_prices: { input_mtok: '1', output_mtok: '3.333333333' } });
  });

  it('prices Kubernetes CPU and memory at OpenCost default rates, rounded once', () => {
    // (0.5 core × 0.031611 + 1 GB × 0.004237) per hour × 1 minute = 0.000334041666… → 0.000334042
    expect(book.compute(500_000n, 1_000_000n, 60_000).nanoUsd).toBe(334_042n);
    expect(book.compute(1_000_000n, 0n, 3_600_000).nanoUsd).toBe(31_611_000n);
  });

  it('prices vector-DB operations per unit from configuration', () => {
    expect(book.vectorDb('query', 10).nanoUsd).toBe(40_000n);
    expect(book.vectorDb('teleport', 1).price.status).toBe('unknown_model');
  });
});
