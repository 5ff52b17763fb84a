import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Provider } from '@pydantic/genai-prices';
import { ConfigError } from '../errors';

/**
 * A price table: genai-prices' provider list (its data.json shape) and the version recorded on
 * every event priced from it. `providers` null is the table bundled with the installed package.
 */
export interface PricingTable {
  version: string;
  providers: Provider[] | null;
  /** Where it came from, for logs and reports. */
  origin: string;
}

/** The installed genai-prices package's version, which names its bundled table. */
export const bundledTableVersion: string = (() => {
  let dir = path.dirname(require.resolve('@pydantic/genai-prices'));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
})();

export const BUNDLED_TABLE: PricingTable = Object.freeze({ version: bundledTableVersion, providers: null, origin: '@pydantic/genai-prices (bundled)' });

/**
 * Parses a table's JSON text. The version is the given one, else the text's SHA-256 (first 12 hex
 * digits), so the same table always carries the same version and a changed one a new version.
 */
export function parsePricingTable(text: string, origin: string, version?: string): PricingTable {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`price table ${origin} is not valid JSON (${(err as Error).message}); give a copy of genai-prices' data.json (a JSON array of providers)`);
  }
  if (!Array.isArray(data) || data.length === 0) throw new ConfigError(`price table ${origin} is not a non-empty JSON array of providers (genai-prices' data.json shape)`);
  data.forEach((p, i) => {
    if (!p || typeof p !== 'object' || typeof p.id !== 'string' || !Array.isArray(p.models)) {
      throw new ConfigError(`price table ${origin}: provider #${i} has no string "id" and "models" array; the file must have genai-prices' data.json shape`);
    }
  });
  const digest = crypto.createHash('sha256').update(text).digest('hex').slice(0, 12);
  return { version: version || `table-${digest}`, providers: data as Provider[], origin };
}

export function loadPricingTableFile(file: string, version?: string): PricingTable {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`PRICING_TABLE_FILE=${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); point it at a readable copy of genai-prices' data.json or unset it`);
  }
  return parsePricingTable(text, file, version);
}

export async function loadPricingTableUrl(url: string, version?: string, timeoutMs = 10_000): Promise<PricingTable> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new ConfigError(`PRICING_TABLE_URL=${url} cannot be fetched (${(err as Error).message}); serve genai-prices' data.json there or unset it`);
  }
  if (!res.ok) throw new ConfigError(`PRICING_TABLE_URL=${url} answered HTTP ${res.status}; serve genai-prices' data.json there or unset it`);
  return parsePricingTable(await res.text(), url, version);
}
