import { defaults, SettingName } from './defaults';
import { ConfigError } from '../errors';
import { Overrides, setting } from './values';

export { defaults } from './defaults';
export type { SettingName } from './defaults';
export * from './values';

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
