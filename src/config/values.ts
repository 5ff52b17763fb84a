import { ConfigError } from '../errors';
import { Decimal, parseDecimal, usdToNano } from '../money';
import { defaults, SettingName } from './defaults';

export type Overrides = Partial<Record<SettingName, string | number | boolean>>;

type Source = 'explicit' | 'environment' | 'default';

function resolve(name: SettingName, overrides: Overrides, env: NodeJS.ProcessEnv): { raw: string; source: Source } {
  const explicit = overrides[name];
  if (explicit !== undefined && explicit !== null) return { raw: String(explicit), source: 'explicit' };
  const fromEnv = env[name];
  if (fromEnv !== undefined && fromEnv !== '') return { raw: fromEnv, source: 'environment' };
  return { raw: defaults[name], source: 'default' };
}

/** Resolves one setting: explicit override → environment → default (src/config/defaults.ts). */
export function setting(name: SettingName, overrides: Overrides = {}, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(name, overrides, env).raw;
}

const FROM: Record<Source, string> = { explicit: 'was given explicitly', environment: 'came from the environment', default: 'is the built-in default' };

/**
 * Parses one setting with `parse`; a value it refuses (by throwing, or returning undefined) is a
 * start-up ConfigError naming the setting and the value, what it must be, how to fix it, and
 * where the value came from, e.g. `X="abc" is not an integer in [1, 10]; set X to a whole number
 * in that range (default 5) (this value came from the environment)`.
 */
export function parsedSetting<T>(name: SettingName, overrides: Overrides, env: NodeJS.ProcessEnv, mustBe: string, fix: string, parse: (raw: string) => T | undefined): T {
  const { raw, source } = resolve(name, overrides, env);
  let value: T | undefined;
  try {
    value = parse(raw);
  } catch {
    value = undefined;
  }
  if (value === undefined) throw new ConfigError(`${name}=${JSON.stringify(raw)} is not ${mustBe}; set ${name} to ${fix} (this value ${FROM[source]})`);
  return value;
}

const example = (name: SettingName) => (defaults[name] === '' ? '' : ` (default ${defaults[name]})`);
const within = (v: number | bigint, min?: number | bigint, max?: number | bigint) => (min === undefined || v >= min) && (max === undefined || v <= max);
const range = (min?: number | string, max?: number | string) => (min !== undefined && max !== undefined ? ` in [${min}, ${max}]` : min !== undefined ? ` of at least ${min}` : max !== undefined ? ` of at most ${max}` : '');

export interface Bounds {
  min?: number;
  max?: number;
}

/** A whole number (default range [0, MAX_SAFE_INTEGER]). */
export function intSetting(name: SettingName, overrides: Overrides = {}, opts: Bounds = {}, env: NodeJS.ProcessEnv = process.env): number {
  const min = opts.min ?? 0;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  return parsedSetting(name, overrides, env, `an integer in [${min}, ${max}]`, `a whole number in that range${example(name)}`, (raw) => {
    const v = Number(raw);
    return Number.isInteger(v) && within(v, min, max) ? v : undefined;
  });
}

/** A finite number (for thresholds used with floating point, such as multipliers and percentages). */
export function numberSetting(name: SettingName, overrides: Overrides = {}, opts: Bounds = {}, env: NodeJS.ProcessEnv = process.env): number {
  return parsedSetting(name, overrides, env, `a number${range(opts.min, opts.max)}`, `a decimal number${example(name)}`, (raw) => {
    const v = Number(raw);
    return raw.trim() !== '' && Number.isFinite(v) && within(v, opts.min, opts.max) ? v : undefined;
  });
}

/** An exact decimal (thresholds compared without floating point). */
export function decimalSetting(name: SettingName, overrides: Overrides = {}, env: NodeJS.ProcessEnv = process.env): Decimal {
  return parsedSetting(name, overrides, env, 'a decimal number', `a decimal number such as 3 or 3.5${example(name)}`, (raw) => parseDecimal(raw));
}

/** A USD amount, exact to the nano-dollar, as BigInt nano-USD. `positive` refuses zero and below. */
export function usdSetting(name: SettingName, overrides: Overrides = {}, opts: { positive?: boolean } = {}, env: NodeJS.ProcessEnv = process.env): bigint {
  const mustBe = `a${opts.positive ? ' positive' : ''} USD amount with at most 9 decimals`;
  return parsedSetting(name, overrides, env, mustBe, `an amount in US dollars${example(name)}`, (raw) => {
    const nano = usdToNano(raw);
    return opts.positive && nano <= 0n ? undefined : nano;
  });
}

/**
 * A duration written in whole `unit`s (the setting's name says which: _MS or _SECONDS), in
 * milliseconds. Bounds are in the setting's own unit.
 */
export function durationSetting(name: SettingName, unit: 'ms' | 's', overrides: Overrides = {}, opts: Bounds = {}, env: NodeJS.ProcessEnv = process.env): number {
  const words = unit === 'ms' ? 'milliseconds' : 'seconds';
  const min = opts.min ?? 0;
  return parsedSetting(name, overrides, env, `a duration in whole ${words}${range(min, opts.max)}`, `a whole number of ${words}${example(name)}`, (raw) => {
    const v = Number(raw);
    if (raw.trim() === '' || !Number.isSafeInteger(v) || !within(v, min, opts.max)) return undefined;
    return unit === 'ms' ? v : v * 1000;
  });
}

export function enumSetting<T extends string>(name: SettingName, allowed: readonly T[], overrides: Overrides = {}, env: NodeJS.ProcessEnv = process.env): T {
  return parsedSetting(name, overrides, env, `one of ${allowed.join(', ')}`, 'one of them', (raw) => ((allowed as readonly string[]).includes(raw) ? (raw as T) : undefined));
}

/** A comma-separated list; blanks are dropped. `allowed`, if given, is what each item may be. */
export function listSetting<T extends string = string>(name: SettingName, overrides: Overrides = {}, allowed?: readonly T[], env: NodeJS.ProcessEnv = process.env): T[] {
  const mustBe = allowed ? `a comma-separated list of ${allowed.join(', ')}` : 'a comma-separated list';
  return parsedSetting(name, overrides, env, mustBe, `items from that list separated by commas${example(name)}`, (raw) => {
    const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
    return allowed && items.some((i) => !(allowed as readonly string[]).includes(i)) ? undefined : (items as T[]);
  });
}

export function boolSetting(name: SettingName, overrides: Overrides = {}, env: NodeJS.ProcessEnv = process.env): boolean {
  return parsedSetting(name, overrides, env, 'a boolean', 'true or false', (raw) => {
    const v = raw.toLowerCase();
    if (['true', '1', 'yes'].includes(v)) return true;
    if (['false', '0', 'no', ''].includes(v)) return false;
    return undefined;
  });
}

/** JSON; `check` may refuse the parsed value (return false) when it is not of the shape wanted. */
export function jsonSetting<T>(name: SettingName, overrides: Overrides = {}, check: (v: unknown) => boolean = () => true, env: NodeJS.ProcessEnv = process.env): T {
  return parsedSetting(name, overrides, env, 'valid JSON of the expected shape', `JSON such as ${defaults[name] || '{}'}`, (raw) => {
    const v: unknown = JSON.parse(raw);
    return check(v) ? (v as T) : undefined;
  });
}
