import { enumSetting, jsonSetting, Overrides, setting } from '../config';
import { ModelPriceOverride, PriceBook } from './price-book';

export * from './price-book';

export function priceBookFromConfig(overrides: Overrides = {}): PriceBook {
  return new PriceBook({
    unknownModel: enumSetting('PRICING_UNKNOWN_MODEL', ['flag', 'reject'] as const, overrides),
    modelOverrides: jsonSetting<Record<string, ModelPriceOverride>>('PRICING_MODEL_OVERRIDES', overrides),
    cpuUsdPerCoreHour: setting('PRICING_CPU_USD_PER_CORE_HOUR', overrides),
    memoryUsdPerGbHour: setting('PRICING_MEMORY_USD_PER_GB_HOUR', overrides),
    vectorDbUsdPerUnit: jsonSetting<Record<string, string>>('PRICING_VECTOR_DB_USD_PER_UNIT', overrides),
  });
}
