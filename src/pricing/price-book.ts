import { calcPrice } from '@pydantic/genai-prices';
import { Decimal, NANO_PER_USD, parseDecimal, roundHalfUpDiv } from '../money';
import { PriceApplied } from '../events/cost-event';
import { UnknownModelError } from '../errors';
import fs from 'node:fs';
import path from 'node:path';

/** The installed price table's version, recorded on every event priced from it. */
const genaiPricesVersion: string = (() => {
  let dir = path.dirname(require.resolve('@pydantic/genai-prices'));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
})();

/** USD per million tokens, as exact decimal text. */
export interface ModelPriceOverride {
  input_mtok: string | number;
  output_mtok: string | number;
  cache_read_mtok?: string | number;
  cache_write_mtok?: string | number;
  cache_write_1h_mtok?: string | number;
}

export interface PriceBookOptions {
  unknownModel: 'flag' | 'reject';
  modelOverrides: Record<string, ModelPriceOverride>;
  cpuUsdPerCoreHour: string;
  memoryUsdPerGbHour: string;
  vectorDbUsdPerUnit: Record<string, string>;
}

export interface Priced {
  nanoUsd: bigint;
  price: PriceApplied;
}

const MICRO = 1_000_000n;
const MS_PER_HOUR = 3_600_000n;

/** A decimal rendered back to text without exponent, for the event's record of prices used. */
function decimalText(value: string | number): string {
  const d = parseDecimal(value);
  if (d.scale === 0) return d.units.toString();
  const negative = d.units < 0n;
  const digits = (negative ? -d.units : d.units).toString().padStart(d.scale + 1, '0');
  const text = `${digits.slice(0, -d.scale)}.${digits.slice(-d.scale)}`.replace(/\.?0+$/, '');
  return (negative ? '-' : '') + text;
}

function basePrice(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (value && typeof value === 'object' && 'base' in value) return Number((value as { base: number }).base);
  return undefined;
}

/**
 * Prices usage exactly. LLM prices come from @pydantic/genai-prices (per million tokens) unless
 * overridden; Kubernetes rates default to OpenCost's published defaults; vector-DB prices come
 * from configuration. Every result records the prices it used.
 */
type TokenPrices = { input_mtok: string; output_mtok?: string; cache_read_mtok?: string; cache_write_mtok?: string; cache_write_1h_mtok?: string };
/** Prompt-cache writes, counted within the input tokens (Anthropic bills a 5-minute and a 1-hour write differently). */
export interface CacheWriteTokens {
  fiveMinute: number;
  oneHour: number;
}
const NO_CACHE_WRITES: CacheWriteTokens = Object.freeze({ fiveMinute: 0, oneHour: 0 });
const OPTIONAL_PRICES = ['cache_read_mtok', 'cache_write_mtok', 'cache_write_1h_mtok'] as const;
type ResolvedModel = { prices: TokenPrices; source: string; version: string } | null;
/** A model's prices made ready for arithmetic: units at one common scale, and the frozen record every event shares. */
type PreparedModel = {
  input: bigint; output: bigint | undefined; cacheRead: bigint | undefined; cacheWrite: bigint | undefined; cacheWrite1h: bigint | undefined;
  divisor: bigint; price: PriceApplied;
} | null;

/** A price record shared by many events: frozen, so nothing can change it under another event (and encoders may cache its bytes). */
function frozenPrice(price: PriceApplied): PriceApplied {
  Object.freeze(price.unit_prices);
  return Object.freeze(price);
}

function prepare(resolved: ResolvedModel): PreparedModel {
  if (!resolved) return null;
  const { prices, source, version } = resolved;
  const parts = [prices.input_mtok, prices.output_mtok, prices.cache_read_mtok, prices.cache_write_mtok, prices.cache_write_1h_mtok].map((p) => (p === undefined ? undefined : parseDecimal(p)));
  const scale = Math.max(...parts.map((p) => p?.scale ?? 0));
  const atScale = (p: Decimal | undefined) => (p === undefined ? undefined : p.units * 10n ** BigInt(scale - p.scale));
  return {
    input: atScale(parts[0])!,
    output: atScale(parts[1]),
    cacheRead: atScale(parts[2]),
    cacheWrite: atScale(parts[3]),
    cacheWrite1h: atScale(parts[4]),
    divisor: 10n ** BigInt(scale) * MICRO,
    price: frozenPrice({ source, version, status: 'priced', unit_prices: { ...prices } }),
  };
}

/** Resolved model prices are reused for this long; the table can carry date-dependent prices. */
const RESOLVED_TTL_MS = 10 * 60 * 1000;

export class PriceBook {
  private readonly resolved = new Map<string, Map<string, { at: number; value: PreparedModel }>>();
  private readonly unknownLlm = frozenPrice({ source: '@pydantic/genai-prices', version: genaiPricesVersion, status: 'unknown_model', unit_prices: {} });
  private readonly unknownVectorDb = frozenPrice({ source: 'config', version: 'vector-db-prices', status: 'unknown_model', unit_prices: {} });
  private readonly vectorDbPrices = new Map<string, { units: bigint; divisor: bigint; price: PriceApplied }>();
  private computeRates: { cpu: Decimal; mem: Decimal; divisor: bigint; price: PriceApplied } | undefined;

  constructor(private readonly opts: PriceBookOptions) {}

  /** The per-token prices for a model, or null when nobody prices it. Cached: table look-ups are slow. */
  private resolve(provider: string, model: string): PreparedModel {
    let models = this.resolved.get(provider);
    if (!models) {
      if (this.resolved.size >= 100) this.resolved.clear(); // bounded: provider names come from callers
      this.resolved.set(provider, (models = new Map()));
    }
    const hit = models.get(model);
    const now = Date.now();
    if (hit && now - hit.at < RESOLVED_TTL_MS) return hit.value;
    const value = prepare(this.lookUp(provider, model));
    if (models.size >= 10_000) models.clear(); // bounded: model names come from callers
    models.set(model, { at: now, value });
    return value;
  }

  private lookUp(provider: string, model: string): ResolvedModel {
    const override = this.opts.modelOverrides[model];
    if (override) {
      const prices: TokenPrices = { input_mtok: decimalText(override.input_mtok), output_mtok: decimalText(override.output_mtok) };
      for (const name of OPTIONAL_PRICES) if (override[name] !== undefined) prices[name] = decimalText(override[name]!);
      return {
        prices,
        source: 'override',
        version: 'config',
      };
    }
    const found = calcPrice({ input_tokens: 1, output_tokens: 1 }, model, { providerId: provider });
    const input = basePrice(found?.model_price.input_mtok);
    if (!found || input === undefined) return null;
    // No output price: a model that bills input only (embeddings); output tokens then make it unknown.
    const output = basePrice(found.model_price.output_mtok);
    const prices: TokenPrices = { input_mtok: decimalText(input), ...(output !== undefined ? { output_mtok: decimalText(output) } : {}) };
    for (const name of OPTIONAL_PRICES) {
      const value = basePrice(found.model_price[name]);
      if (value !== undefined) prices[name] = decimalText(value);
    }
    return {
      prices,
      source: '@pydantic/genai-prices',
      version: `${genaiPricesVersion}:${found.provider.id}/${found.model.id}`,
    };
  }

  /**
   * `inputTokens` counts every input token, cached ones included: cache reads are billed at the
   * cache-read rate and cache writes at the cache-write rates when the table has them, and at the
   * input rate when it has not.
   */
  llm(provider: string, model: string, inputTokens: number, outputTokens: number, cachedInputTokens = 0, cacheWrites: CacheWriteTokens = NO_CACHE_WRITES): Priced {
    const m = this.resolve(provider, model);
    if (!m || (m.output === undefined && outputTokens > 0)) {
      if (this.opts.unknownModel === 'reject') throw new UnknownModelError(model);
      return { nanoUsd: 0n, price: this.unknownLlm };
    }
    let uncached = inputTokens;
    const take = (tokens: number, rate: bigint | undefined): bigint => {
      if (rate === undefined || tokens <= 0) return 0n;
      const n = Math.min(tokens, uncached);
      uncached -= n;
      return BigInt(n) * rate;
    };
    // Sum exact terms at a common scale before the single rounding, so parts never round separately.
    let units = take(cachedInputTokens, m.cacheRead) + take(cacheWrites.fiveMinute, m.cacheWrite) + take(cacheWrites.oneHour, m.cacheWrite1h);
    units += BigInt(uncached) * m.input;
    if (outputTokens > 0) units += BigInt(outputTokens) * m.output!;
    return { nanoUsd: roundHalfUpDiv(units * NANO_PER_USD, m.divisor), price: m.price };
  }

  /** cpuCores and memoryGb in micro-units (scale 6), as carried on the wire. */
  compute(microCores: bigint, microGb: bigint, durationMs: number): Priced {
    let r = this.computeRates;
    if (!r) {
      const cpu = parseDecimal(this.opts.cpuUsdPerCoreHour);
      const mem = parseDecimal(this.opts.memoryUsdPerGbHour);
      r = this.computeRates = {
        cpu, mem,
        divisor: 10n ** BigInt(6 + cpu.scale + mem.scale) * MS_PER_HOUR,
        price: frozenPrice({
          source: 'config', version: 'opencost-default-rates', status: 'priced',
          unit_prices: { cpu_core_hour: decimalText(this.opts.cpuUsdPerCoreHour), memory_gb_hour: decimalText(this.opts.memoryUsdPerGbHour) },
        }),
      };
    }
    const ms = BigInt(durationMs);
    // cost = (cores × rate + GB × rate) × ms / 3.6e6, rounded once.
    const cpuPart = microCores * ms * r.cpu.units * 10n ** BigInt(r.mem.scale);
    const memPart = microGb * ms * r.mem.units * 10n ** BigInt(r.cpu.scale);
    return { nanoUsd: roundHalfUpDiv((cpuPart + memPart) * NANO_PER_USD, r.divisor), price: r.price };
  }

  vectorDb(operation: string, units: number): Priced {
    let p = this.vectorDbPrices.get(operation);
    if (!p) {
      const text = Object.prototype.hasOwnProperty.call(this.opts.vectorDbUsdPerUnit, operation) ? this.opts.vectorDbUsdPerUnit[operation] : undefined;
      if (text === undefined) {
        if (this.opts.unknownModel === 'reject') throw new UnknownModelError(`vector_db:${operation}`);
        return { nanoUsd: 0n, price: this.unknownVectorDb };
      }
      const d = parseDecimal(text);
      p = { units: d.units, divisor: 10n ** BigInt(d.scale), price: frozenPrice({ source: 'config', version: 'vector-db-prices', status: 'priced', unit_prices: { [operation]: decimalText(text) } }) };
      this.vectorDbPrices.set(operation, p);
    }
    return { nanoUsd: roundHalfUpDiv(BigInt(units) * p.units * NANO_PER_USD, p.divisor), price: p.price };
  }
}

export { decimalText };
