import { enumSetting, jsonSetting, Overrides, setting } from '../config';
import { ConfigError } from '../errors';
import { ModelPriceOverride, PriceBook } from './price-book';
import { BUNDLED_TABLE, loadPricingTableFile, loadPricingTableUrl, PricingTable } from './table';

export * from './price-book';
export * from './table';

/** The configured LLM price table when it is a file (or the bundled one); a URL needs `pricingTableFromConfig`. */
export function pricingTableFileFromConfig(overrides: Overrides = {}): PricingTable | undefined {
  const file = setting('PRICING_TABLE_FILE', overrides);
  const url = setting('PRICING_TABLE_URL', overrides);
  if (file && url) throw new ConfigError('PRICING_TABLE_FILE and PRICING_TABLE_URL are both set; set only one');
  if (url) return undefined;
  return file ? loadPricingTableFile(file, setting('PRICING_TABLE_VERSION', overrides) || undefined) : BUNDLED_TABLE;
}

/** The configured LLM price table: PRICING_TABLE_FILE, PRICING_TABLE_URL (fetched now) or the bundled one. */
export async function pricingTableFromConfig(overrides: Overrides = {}): Promise<PricingTable> {
  return pricingTableFileFromConfig(overrides) ?? loadPricingTableUrl(setting('PRICING_TABLE_URL', overrides), setting('PRICING_TABLE_VERSION', overrides) || undefined);
}

export function priceBookFromConfig(overrides: Overrides = {}, table?: PricingTable): PriceBook {
  const resolvedTable = table ?? pricingTableFileFromConfig(overrides);
  if (!resolvedTable) throw new ConfigError('PRICING_TABLE_URL is set: build the price book with loadPriceBook(), which fetches it');
  return new PriceBook({
    unknownModel: enumSetting('PRICING_UNKNOWN_MODEL', ['flag', 'reject'] as const, overrides),
    modelOverrides: jsonSetting<Record<string, ModelPriceOverride | ModelPriceOverride[]>>('PRICING_MODEL_OVERRIDES', overrides),
    table: resolvedTable,
    cpuUsdPerCoreHour: setting('PRICING_CPU_USD_PER_CORE_HOUR', overrides),
    memoryUsdPerGbHour: setting('PRICING_MEMORY_USD_PER_GB_HOUR', overrides),
    vectorDbUsdPerUnit: jsonSetting<Record<string, string>>('PRICING_VECTOR_DB_USD_PER_UNIT', overrides),
  });
}

/** The configured price book, fetching PRICING_TABLE_URL when that is how the table is given. */
export async function loadPriceBook(overrides: Overrides = {}): Promise<PriceBook> {
  return priceBookFromConfig(overrides, await pricingTableFromConfig(overrides));
}
