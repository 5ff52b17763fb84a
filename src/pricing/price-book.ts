import crypto from 'node:crypto';
import { calcPrice, ModelInfo } from '@pydantic/genai-prices';
import { Decimal, NANO_PER_USD, parseDecimal, roundHalfUpDiv } from '../money';
import { PriceApplied } from '../events/cost-event';
import { ConfigError, UnknownModelError } from '../errors';
import { BUNDLED_TABLE, PricingTable } from './table';

/**
 * USD per million tokens, as exact decimal text, in force from `effective_from` (inclusive, ISO
 * time; absent: always) until `effective_to` (exclusive; absent: open-ended).
 */
export interface ModelPriceOverride {
  input_mtok: string | number;
  output_mtok: string | number;
  cache_read_mtok?: string | number;
  cache_write_mtok?: string | number;
  cache_write_1h_mtok?: string | number;
  effective_from?: string;
  effective_to?: string;
}

export interface PriceBookOptions {
  unknownModel: 'flag' | 'reject';
  /** One override or a list of effective-dated ones per model; an override beats the table while it is in force. */
  modelOverrides: Record<string, ModelPriceOverride | ModelPriceOverride[]>;
  /** The LLM price table; default: the one bundled with @pydantic/genai-prices. */
  table?: PricingTable;
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

/** A model's token rates over a window of event times; `price` null: the book does not price it then. */
export interface TokenRateWindow {
  from: Date;
  to: Date;
  price: PriceApplied | null;
  input: bigint;
  output: bigint;
  cacheRead: bigint | null;
  divisor: bigint;
}

/** An override made ready: its window in epoch ms. */
interface DatedOverride { from: number; to: number; label: string; prices: TokenPrices }

/** A resolved price and the window of event times it holds for (from inclusive, to exclusive). */
interface Window { from: number; to: number; value: PreparedModel }

const WINDOWS_PER_MODEL = 16;

function overrideTime(model: string, field: string, text: string | undefined, open: number): number {
  if (text === undefined || text === null) return open;
  const t = Date.parse(text);
  if (!Number.isFinite(t)) throw new ConfigError(`PRICING_MODEL_OVERRIDES: ${model}.${field}=${JSON.stringify(text)} is not an ISO time; write e.g. "2026-01-01T00:00:00Z"`);
  return t;
}

/** Adds the cache prices `from` has to `prices`. */
function optionalPrices(prices: TokenPrices, from: Partial<Record<(typeof OPTIONAL_PRICES)[number], string | number | undefined>>): TokenPrices {
  for (const name of OPTIONAL_PRICES) {
    const value = from[name];
    if (value !== undefined) prices[name] = decimalText(value);
  }
  return prices;
}

/** Checks and sorts a model's overrides; overlapping windows are a configuration error. */
export function datedOverrides(model: string, given: ModelPriceOverride | ModelPriceOverride[]): DatedOverride[] {
  const list = (Array.isArray(given) ? given : [given]).map((o) => {
    if (o === null || typeof o !== 'object' || o.input_mtok === undefined || o.output_mtok === undefined) {
      throw new ConfigError(`PRICING_MODEL_OVERRIDES: ${model} needs input_mtok and output_mtok (USD per million tokens)`);
    }
    const from = overrideTime(model, 'effective_from', o.effective_from, -Infinity);
    const to = overrideTime(model, 'effective_to', o.effective_to, Infinity);
    if (!(from < to)) throw new ConfigError(`PRICING_MODEL_OVERRIDES: ${model} has effective_to ${o.effective_to} not after effective_from ${o.effective_from}`);
    return {
      from, to,
      label: o.effective_from ? new Date(from).toISOString() : 'always',
      prices: optionalPrices({ input_mtok: decimalText(o.input_mtok), output_mtok: decimalText(o.output_mtok) }, o),
    };
  }).sort((a, b) => a.from - b.from);
  for (let i = 1; i < list.length; i++) {
    if (list[i].from < list[i - 1].to) throw new ConfigError(`PRICING_MODEL_OVERRIDES: ${model} has overlapping effective windows (${list[i - 1].label} and ${list[i].label}); give each an effective_to before the next effective_from`);
  }
  return list;
}

/** Start dates at which a table's model changes price (genai-prices' start_date constraints); null when its price varies by time of day. */
function priceChanges(model: ModelInfo): number[] | null {
  if (!Array.isArray(model.prices)) return [];
  const times: number[] = [];
  for (const p of model.prices) {
    if (!p.constraint) continue;
    if (p.constraint.type !== 'start_date') return null;
    times.push(Date.parse(`${p.constraint.start_date}T00:00:00Z`));
  }
  return times;
}

/** The start date of the table price in force at `at`, when the model has dated prices. */
function priceStartDate(model: ModelInfo, at: Date): string | undefined {
  if (!Array.isArray(model.prices)) return undefined;
  let chosen: string | undefined;
  for (const p of model.prices) {
    if (p.constraint?.type === 'start_date' && at.getTime() >= Date.parse(`${p.constraint.start_date}T00:00:00Z`)) chosen = p.constraint.start_date;
  }
  return chosen;
}

export class PriceBook {
  private readonly resolved = new Map<string, Map<string, Window[]>>();
  private readonly overrides = new Map<string, DatedOverride[]>();
  private readonly unknownLlm: PriceApplied;
  private readonly unknownVectorDb = frozenPrice({ source: 'config', version: 'vector-db-prices', status: 'unknown_model', unit_prices: {} });
  private readonly vectorDbPrices = new Map<string, { units: bigint; divisor: bigint; price: PriceApplied }>();
  private computeRates: { cpuAtCommonScale: bigint; memAtCommonScale: bigint; divisor: bigint; price: PriceApplied } | undefined;
  readonly table: PricingTable;
  /**
   * The version of this book's LLM prices as a whole: the table's, plus a digest of the overrides
   * when there are any. Re-pricing targets it, and it prefixes every priced event's version.
   */
  readonly version: string;

  constructor(private readonly opts: PriceBookOptions) {
    this.table = opts.table ?? BUNDLED_TABLE;
    for (const [model, given] of Object.entries(opts.modelOverrides ?? {})) this.overrides.set(model, datedOverrides(model, given));
    this.version = this.overrides.size
      ? `${this.table.version}+overrides-${crypto.createHash('sha256').update(JSON.stringify(opts.modelOverrides)).digest('hex').slice(0, 8)}`
      : this.table.version;
    this.unknownLlm = frozenPrice({ source: this.table.providers ? 'pricing-table' : '@pydantic/genai-prices', version: this.table.version, status: 'unknown_model', unit_prices: {} });
  }

  /** The per-token prices for a model at an event time, or null when nobody prices it. Cached by price window: table look-ups are slow. */
  private resolve(provider: string, model: string, at: Date): PreparedModel {
    let models = this.resolved.get(provider);
    if (!models) {
      if (this.resolved.size >= 100) this.resolved.clear(); // bounded: provider names come from callers
      this.resolved.set(provider, (models = new Map()));
    }
    const t = at.getTime();
    let windows = models.get(model);
    if (windows) for (const w of windows) if (t >= w.from && t < w.to) return w.value;
    const window = this.lookUp(provider, model, at);
    if (!windows) {
      if (models.size >= 10_000) models.clear(); // bounded: model names come from callers
      models.set(model, (windows = []));
    }
    if (windows.length >= WINDOWS_PER_MODEL) windows.shift();
    windows.push(window);
    return window.value;
  }

  /** The price in force at `at` and the window around it in which nothing changes. */
  private lookUp(provider: string, model: string, at: Date): Window {
    const t = at.getTime();
    const dated = this.overrides.get(model) ?? [];
    const bounds = dated.flatMap((o) => [o.from, o.to]);
    const window = (value: PreparedModel, more: number[] | null): Window => {
      if (more === null) return { from: t, to: t + 1, value }; // time-of-day prices: never reused
      let from = -Infinity;
      let to = Infinity;
      for (const b of [...bounds, ...more]) {
        if (b <= t && b > from) from = b;
        if (b > t && b < to) to = b;
      }
      return { from, to, value };
    };
    const override = dated.find((o) => t >= o.from && t < o.to);
    if (override) {
      return window(prepare({ prices: override.prices, source: 'override', version: `${this.version}:override/${model}@${override.label}` }), []);
    }
    const tableProvider = this.table.providers?.find((p) => p.id === provider.toLowerCase().trim());
    if (this.table.providers && !tableProvider) return window(null, []);
    const found = calcPrice({ input_tokens: 1, output_tokens: 1 }, model, tableProvider ? { provider: tableProvider, timestamp: at } : { providerId: provider, timestamp: at });
    const input = basePrice(found?.model_price.input_mtok);
    if (!found || input === undefined) return window(null, found ? priceChanges(found.model) : []);
    // No output price: a model that bills input only (embeddings); output tokens then make it unknown.
    const output = basePrice(found.model_price.output_mtok);
    const cachePrices: Partial<Record<(typeof OPTIONAL_PRICES)[number], number>> = {};
    for (const name of OPTIONAL_PRICES) cachePrices[name] = basePrice(found.model_price[name]);
    const since = priceStartDate(found.model, at);
    return window(prepare({
      prices: optionalPrices({ input_mtok: decimalText(input), ...(output !== undefined ? { output_mtok: decimalText(output) } : {}) }, cachePrices),
      source: this.table.providers ? 'pricing-table' : '@pydantic/genai-prices',
      version: `${this.version}:${found.provider.id}/${found.model.id}${since ? `@${since}` : ''}`,
    }), priceChanges(found.model));
  }

  /**
   * The token rates for a model over [from, to), as consecutive windows: what re-pricing joins
   * events against. Rates are integers at a common scale: cost in USD = Σ tokens × rate / divisor.
   */
  rateWindows(provider: string, model: string, from: Date, to: Date): TokenRateWindow[] {
    const out: TokenRateWindow[] = [];
    let t = from.getTime();
    while (t < to.getTime()) {
      const w = this.lookUp(provider, model, new Date(t));
      const end = Math.min(w.to, to.getTime());
      const m = w.value;
      const last = out[out.length - 1];
      if (last && last.price === (m?.price ?? null)) last.to = new Date(end);
      else out.push({ from: new Date(t), to: new Date(end), price: m?.price ?? null, input: m?.input ?? 0n, output: m?.output ?? 0n, cacheRead: m?.cacheRead ?? null, divisor: m?.divisor ?? 1n });
      if (out.length > 10_000) throw new ConfigError(`${model} changes price more than 10,000 times in the range; re-price a shorter range`);
      t = end;
    }
    return out;
  }

  /** Whether the book prices this model at `at` (the coverage report asks before a table is used). */
  prices(provider: string, model: string, at: Date = new Date()): boolean {
    return this.resolve(provider, model, at) !== null;
  }

  /** The token prices in force for a model at `at` (null: unpriced), as the event would record them. */
  priceOf(provider: string, model: string, at: Date = new Date()): PriceApplied | null {
    return this.resolve(provider, model, at)?.price ?? null;
  }

  /**
   * Prices an LLM call at its event time (default now): the price in force then is the one used.
   * `inputTokens` counts every input token, cached ones included: cache reads are billed at the
   * cache-read rate and cache writes at the cache-write rates when the table has them, and at the
   * input rate when it has not.
   */
  llm(provider: string, model: string, inputTokens: number, outputTokens: number, cachedInputTokens = 0, at: Date = new Date(), cacheWrites: CacheWriteTokens = NO_CACHE_WRITES): Priced {
    const m = this.resolve(provider, model, at);
    if (!m || (m.output === undefined && outputTokens > 0)) {
      if (this.opts.unknownModel === 'reject') throw new UnknownModelError(model);
      return { nanoUsd: 0n, price: this.unknownLlm };
    }
    // Sum exact terms at a common scale before the single rounding, so parts never round separately.
    // Cache reads, then 5-minute and 1-hour cache writes, each take from the input tokens not yet billed.
    let uncached = inputTokens;
    let units = 0n;
    if (m.cacheRead !== undefined && cachedInputTokens > 0) {
      const n = Math.min(cachedInputTokens, uncached);
      uncached -= n;
      units += BigInt(n) * m.cacheRead;
    }
    if (m.cacheWrite !== undefined && cacheWrites.fiveMinute > 0) {
      const n = Math.min(cacheWrites.fiveMinute, uncached);
      uncached -= n;
      units += BigInt(n) * m.cacheWrite;
    }
    if (m.cacheWrite1h !== undefined && cacheWrites.oneHour > 0) {
      const n = Math.min(cacheWrites.oneHour, uncached);
      uncached -= n;
      units += BigInt(n) * m.cacheWrite1h;
    }
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
        cpuAtCommonScale: cpu.units * 10n ** BigInt(mem.scale),
        memAtCommonScale: mem.units * 10n ** BigInt(cpu.scale),
        divisor: 10n ** BigInt(6 + cpu.scale + mem.scale) * MS_PER_HOUR,
        price: frozenPrice({
          source: 'config', version: 'opencost-default-rates', status: 'priced',
          unit_prices: { cpu_core_hour: decimalText(this.opts.cpuUsdPerCoreHour), memory_gb_hour: decimalText(this.opts.memoryUsdPerGbHour) },
        }),
      };
    }
    const ms = BigInt(durationMs);
    // cost = (cores × rate + GB × rate) × ms / 3.6e6, rounded once.
    return { nanoUsd: roundHalfUpDiv((microCores * r.cpuAtCommonScale + microGb * r.memAtCommonScale) * ms * NANO_PER_USD, r.divisor), price: r.price };
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
