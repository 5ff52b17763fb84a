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

export function boolSetting(name: SettingName, overrides: Overrides = {}, env: NodeJS.ProcessEnv = process.env): boolean {
  const raw = setting(name, overrides, env).toLowerCase();
  if (['true', '1', 'yes'].includes(raw)) return true;
  if (['false', '0', 'no', ''].includes(raw)) return false;
  throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a boolean; set ${name} to true or false`);
}

/**
 * Whether this process runs against the local stack, where the built-in DATABASE_URL (with its
 * known password) may be used. FINOPS_ENVIRONMENT decides; unset, a pod (KUBERNETES_SERVICE_HOST)
 * is not local and anything else is.
 */
export function isLocalEnvironment(overrides: Overrides = {}, env: NodeJS.ProcessEnv = process.env): boolean {
  const declared = setting('FINOPS_ENVIRONMENT', overrides, env).trim().toLowerCase();
  if (declared) return declared === 'local';
  return !env.KUBERNETES_SERVICE_HOST;
}

/** The processes that connect to Postgres, each with a login of its own (docs/security.md). */
export type DatabaseRole = 'migrator' | 'storage' | 'anomaly' | 'alerts' | 'breaker' | 'api';

const ROLE_URL_SETTING: Record<DatabaseRole, SettingName> = {
  migrator: 'MIGRATOR_DATABASE_URL',
  storage: 'STORAGE_DATABASE_URL',
  anomaly: 'ANOMALY_DATABASE_URL',
  alerts: 'ALERTS_DATABASE_URL',
  breaker: 'BREAKER_DATABASE_URL',
  api: 'API_DATABASE_URL',
};

/**
 * The database URL for one role: explicit `<ROLE>_DATABASE_URL` → explicit DATABASE_URL →
 * environment `<ROLE>_DATABASE_URL` → environment DATABASE_URL → the local stack's default, which
 * only a local environment may use.
 */
export function databaseUrl(role: DatabaseRole | undefined, overrides: Overrides = {}, env: NodeJS.ProcessEnv = process.env): string {
  const own = role ? ROLE_URL_SETTING[role] : undefined;
  const given = (v: unknown) => v !== undefined && v !== null && v !== '';
  if (own && given(overrides[own])) return String(overrides[own]);
  if (given(overrides.DATABASE_URL)) return String(overrides.DATABASE_URL);
  if (own && given(env[own])) return env[own]!;
  if (given(env.DATABASE_URL)) return env.DATABASE_URL!;
  if (isLocalEnvironment(overrides, env)) return defaults.DATABASE_URL;
  const name = own ?? 'DATABASE_URL';
  throw new ConfigError(
    `${name} is not set and this is not the local stack (FINOPS_ENVIRONMENT=${setting('FINOPS_ENVIRONMENT', overrides, env) || '(unset, on Kubernetes)'}): ` +
      `set ${name}${own ? ' (or DATABASE_URL)' : ''} to postgres://<user>:<password>@<host>:<port>/<db> from a Secret, ` +
      'or set FINOPS_ENVIRONMENT=local to use the local stack\'s built-in URL',
  );
}
