import { defaults, SettingName } from './defaults';
import { ConfigError } from '../errors';

export { defaults } from './defaults';
export type { SettingName } from './defaults';

export type Overrides = Partial<Record<SettingName, string | number | boolean>>;

/** Resolves one setting: explicit override → environment → default. */
export function setting(name: SettingName, overrides: Overrides = {}, env: NodeJS.ProcessEnv = process.env): string {
  const explicit = overrides[name];
  if (explicit !== undefined && explicit !== null) return String(explicit);
  const fromEnv = env[name];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return defaults[name];
}

export function intSetting(name: SettingName, overrides: Overrides = {}, opts: { min?: number; max?: number } = {}): number {
  const raw = setting(name, overrides);
  const value = Number(raw);
  const min = opts.min ?? 0;
  const max = opts.max ?? Number.MAX_SAFE_INTEGER;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not an integer in [${min}, ${max}]; set ${name} to a whole number in that range`);
  }
  return value;
}

export function jsonSetting<T>(name: SettingName, overrides: Overrides = {}): T {
  const raw = setting(name, overrides);
  try {
    return JSON.parse(raw) as T;
  } catch (err) {
    throw new ConfigError(`${name} is not valid JSON (${(err as Error).message}); set it to a JSON object such as ${defaults[name]}`);
  }
}

export function enumSetting<T extends string>(name: SettingName, allowed: readonly T[], overrides: Overrides = {}): T {
  const raw = setting(name, overrides);
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not one of ${allowed.join(', ')}; set ${name} to one of them`);
  }
  return raw as T;
}

export function listSetting(name: SettingName, overrides: Overrides = {}): string[] {
  return setting(name, overrides).split(',').map((s) => s.trim()).filter(Boolean);
}

export interface Topics {
  costEvents: string;
  postOutcomes: string;
  costAnomalies: string;
  costControls: string;
  deadLetter: string;
}

export function topics(overrides: Overrides = {}): Topics {
  return {
    costEvents: setting('TOPIC_COST_EVENTS', overrides),
    postOutcomes: setting('TOPIC_POST_OUTCOMES', overrides),
    costAnomalies: setting('TOPIC_COST_ANOMALIES', overrides),
    costControls: setting('TOPIC_COST_CONTROLS', overrides),
    deadLetter: setting('TOPIC_DEAD_LETTER', overrides),
  };
}
