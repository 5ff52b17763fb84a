import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadPricingTableFile, parsePricingTable, PriceBook, PriceBookOptions, priceBookFromConfig } from '../../src/pricing';
import { ConfigError } from '../../src/errors';

const base: PriceBookOptions = {
  unknownModel: 'flag',
  modelOverrides: {},
  cpuUsdPerCoreHour: '0.031611',
  memoryUsdPerGbHour: '0.004237',
  vectorDbUsdPerUnit: {},
};

describe('effective-dated prices', () => {
  it('prices each call at its event time: an override in force from effective_from, the table before and after effective_to', () => {
    const book = new PriceBook({
      ...base,
      modelOverrides: { 'gpt-4o': [{ input_mtok: '3', output_mtok: '12', effective_from: '2026-03-01T12:00:00Z', effective_to: '2026-03-02T00:00:00Z' }] },
    });
    const before = book.llm('openai', 'gpt-4o', 1000, 500, 0, new Date('2026-03-01T11:59:59.999Z'));
    const during = book.llm('openai', 'gpt-4o', 1000, 500, 0, new Date('2026-03-01T12:00:00Z'));
    const after = book.llm('openai', 'gpt-4o', 1000, 500, 0, new Date('2026-03-02T00:00:00Z'));
    expect(before.nanoUsd).toBe(7_500_000n); // 1000 × 2.5 + 500 × 10 per million
    expect(during.nanoUsd).toBe(9_000_000n); // 1000 × 3 + 500 × 12 per million
    expect(after.nanoUsd).toBe(7_500_000n);
    expect(during.price.source).toBe('override');
    expect(during.price.version).toBe(`${book.version}:override/gpt-4o@2026-03-01T12:00:00.000Z`);
    expect(before.price.source).toBe('@pydantic/genai-prices');
    // The cache holds windows, so asking again in any order gives the same answers.
    expect(book.llm('openai', 'gpt-4o', 1000, 500, 0, new Date('2026-03-01T11:00:00Z')).nanoUsd).toBe(7_500_000n);
    expect(book.llm('openai', 'gpt-4o', 1000, 500, 0, new Date('2026-03-01T23:00:00Z')).nanoUsd).toBe(9_000_000n);
  });

  it('refuses overlapping or inverted windows with a message that says the fix', () => {
    const overlapping = { m: [{ input_mtok: 1, output_mtok: 1, effective_from: '2026-01-01T00:00:00Z' }, { input_mtok: 2, output_mtok: 2, effective_from: '2026-02-01T00:00:00Z' }] };
    expect(() => new PriceBook({ ...base, modelOverrides: overlapping })).toThrow(/overlapping effective windows.*effective_to/);
    expect(() => new PriceBook({ ...base, modelOverrides: { m: { input_mtok: 1, output_mtok: 1, effective_from: '2026-02-01T00:00:00Z', effective_to: '2026-01-01T00:00:00Z' } } })).toThrow(ConfigError);
    expect(() => new PriceBook({ ...base, modelOverrides: { m: { input_mtok: 1, output_mtok: 1, effective_from: 'soon' } } })).toThrow(/not an ISO time/);
  });

  it("uses genai-prices' own historic prices: a model whose table price changed on a date", () => {
    const book = new PriceBook(base);
    // voxtral-small-2507 (mistral): output $0.30 per million before 2026-08-11, $0.40 from then on.
    const old = book.llm('mistral', 'voxtral-small-2507', 0, 1_000_000, 0, new Date('2026-08-10T23:59:59Z'));
    const now = book.llm('mistral', 'voxtral-small-2507', 0, 1_000_000, 0, new Date('2026-08-11T00:00:00Z'));
    expect(old.nanoUsd).toBe(300_000_000n);
    expect(now.nanoUsd).toBe(400_000_000n);
    expect(now.price.version).toMatch(/:mistral\/voxtral-small-24b-2507@2026-08-11$/);
    expect(old.price.version).not.toBe(now.price.version);
  });

  it('loads a newer table from a file in genai-prices data shape and stamps its version on every event', () => {
    const table = [{ id: 'openai', name: 'OpenAI', api_pattern: 'x', models: [{ id: 'gpt-4o', match: { equals: 'gpt-4o' }, prices: { input_mtok: 2, output_mtok: 8 } }] }];
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'prices-')), 'data.json');
    fs.writeFileSync(file, JSON.stringify(table));
    const book = priceBookFromConfig({ PRICING_TABLE_FILE: file, PRICING_MODEL_OVERRIDES: '{}' });
    const r = book.llm('openai', 'gpt-4o', 1000, 500);
    expect(r.nanoUsd).toBe(6_000_000n);
    expect(book.version).toMatch(/^table-[0-9a-f]{12}$/);
    expect(r.price).toMatchObject({ source: 'pricing-table', version: `${book.version}:openai/gpt-4o` });
    // A model the new table no longer prices is flagged, never $0 silently.
    const dropped = book.llm('openai', 'gpt-3.5-turbo-0125', 1000, 500);
    expect(dropped.price).toMatchObject({ status: 'unknown_model', version: book.version });
    expect(book.prices('openai', 'gpt-3.5-turbo-0125')).toBe(false);
    expect(loadPricingTableFile(file, 'v2026-12').version).toBe('v2026-12');
  });

  it('refuses a table that is not in the data shape, naming the file', () => {
    expect(() => parsePricingTable('{"openai":{}}', 'x.json')).toThrow(/x\.json.*array of providers/);
    expect(() => parsePricingTable('[{"name":"no id"}]', 'x.json')).toThrow(/provider #0/);
    expect(() => loadPricingTableFile('/nonexistent/prices.json')).toThrow(/PRICING_TABLE_FILE=.*cannot be read/);
  });
});
