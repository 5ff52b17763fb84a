import { calcPrice } from '@pydantic/genai-prices';
import { Decimal, nanoUsdFromProduct, parseDecimal } from '../money';
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
type TokenPrices = { input_mtok: string; output_mtok: string; cache_read_mtok?: string };
type ResolvedModel = { prices: TokenPrices; source: string; version: string } | null;

/** Resolved model prices are reused for this long; the table can carry date-dependent prices. */
const RESOLVED_TTL_MS = 10 * 60 * 1000;

export class PriceBook {
  private readonly resolved = new Map<string, { at: number; value: ResolvedModel }>();

  constructor(private readonly opts: PriceBookOptions) {}

  /** The per-token prices for a model, or null when nobody prices it. Cached: table look-ups are slow. */
  private resolve(provider: string, model: string): ResolvedModel {
    const key = `${provider}\u0000${model}`;
    const hit = this.resolved.get(key);
    if (hit && Date.now() - hit.at < RESOLVED_TTL_MS) return hit.value;
    const value = this.lookUp(provider, model);
    if (this.resolved.size >= 10_000) this.resolved.clear(); // bounded: model names come from callers
    this.resolved.set(key, { at: Date.now(), value });
    return value;
  }

  private lookUp(provider: string, model: string): ResolvedModel {
    const override = this.opts.modelOverrides[model];
    if (override) {
      return {
        prices: {
          input_mtok: decimalText(override.input_mtok),
          output_mtok: decimalText(override.output_mtok),
          ...(override.cache_read_mtok !== undefined ? { cache_read_mtok: decimalText(override.cache_read_mtok) } : {}),
        },
        source: 'override',
        version: 'config',
      };
    }
    const found = calcPrice({ input_tokens: 1, output_tokens: 1 }, model, { providerId: provider });
    const input = basePrice(found?.model_price.input_mtok);
    const output = basePrice(found?.model_price.output_mtok);
    if (!found || input === undefined || output === undefined) return null;
    const cacheRead = basePrice(found.model_price.cache_read_mtok);
    return {
      prices: {
        input_mtok: decimalText(input),
        output_mtok: decimalText(output),
        ...(cacheRead !== undefined ? { cache_read_mtok: decimalText(cacheRead) } : {}),
      },
      source: '@pydantic/genai-prices',
      version: `${genaiPricesVersion}:${found.provider.id}/${found.model.id}`,
    };
  }

  llm(provider: string, model: string, inputTokens: number, outputTokens: number, cachedInputTokens = 0): Priced {
    const resolved = this.resolve(provider, model);
    if (!resolved) {
      if (this.opts.unknownModel === 'reject') throw new UnknownModelError(model);
      return { nanoUsd: 0n, price: { source: '@pydantic/genai-prices', version: genaiPricesVersion, status: 'unknown_model', unit_prices: {} } };
    }
    const { prices, source, version } = resolved;
    // input_tokens includes cached tokens; cached ones are billed at the cache-read rate when there is one.
    const cached = prices.cache_read_mtok !== undefined ? Math.min(cachedInputTokens, inputTokens) : 0;
    const terms: [number, string][] = [
      [inputTokens - cached, prices.input_mtok],
      [outputTokens, prices.output_mtok],
    ];
    if (cached > 0) terms.push([cached, prices.cache_read_mtok!]);
    // Sum exact terms at a common scale before the single rounding, so parts never round separately.
    const parsed = terms.map(([tokens, price]) => ({ tokens: BigInt(tokens), p: parseDecimal(price) }));
    const scale = Math.max(...parsed.map((t) => t.p.scale));
    let units = 0n;
    for (const { tokens, p } of parsed) units += tokens * p.units * 10n ** BigInt(scale - p.scale);
    const nanoUsd = nanoUsdFromProduct([{ units, scale }], MICRO);
    return { nanoUsd, price: { source, version, status: 'priced', unit_prices: prices } };
  }

  /** cpuCores and memoryGb in micro-units (scale 6), as carried on the wire. */
  compute(microCores: bigint, microGb: bigint, durationMs: number): Priced {
    const cpu = parseDecimal(this.opts.cpuUsdPerCoreHour);
    const mem = parseDecimal(this.opts.memoryUsdPerGbHour);
    const coreHours: Decimal = { units: microCores * BigInt(durationMs), scale: 6 };
    const gbHours: Decimal = { units: microGb * BigInt(durationMs), scale: 6 };
    // cost = (cores × rate + GB × rate) × ms / 3.6e6, rounded once.
    const cpuPart = coreHours.units * cpu.units * 10n ** BigInt(mem.scale);
    const memPart = gbHours.units * mem.units * 10n ** BigInt(cpu.scale);
    const nanoUsd = nanoUsdFromProduct([{ units: cpuPart + memPart, scale: 6 + cpu.scale + mem.scale }], MS_PER_HOUR);
    return {
      nanoUsd,
      price: {
        source: 'config',
        version: 'opencost-default-rates',
        status: 'priced',
        unit_prices: { cpu_core_hour: decimalText(this.opts.cpuUsdPerCoreHour), memory_gb_hour: decimalText(this.opts.memoryUsdPerGbHour) },
      },
    };
  }

  vectorDb(operation: string, units: number): Priced {
    const price = this.opts.vectorDbUsdPerUnit[operation];
    if (price === undefined) {
      if (this.opts.unknownModel === 'reject') throw new UnknownModelError(`vector_db:${operation}`);
      return { nanoUsd: 0n, price: { source: 'config', version: 'vector-db-prices', status: 'unknown_model', unit_prices: {} } };
    }
    return {
      nanoUsd: nanoUsdFromProduct([{ units: BigInt(units), scale: 0 }, parseDecimal(price)]),
      price: { source: 'config', version: 'vector-db-prices', status: 'priced', unit_prices: { [operation]: decimalText(price) } },
    };
  }
}

export { decimalText };
