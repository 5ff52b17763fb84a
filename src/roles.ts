import { Overrides } from './config';
import { OpsServer } from './http/ops-server';

/** A long-running part of the pipeline (a consumer group or the API). */
export interface Role {
  readonly name: string;
  start(): Promise<void>;
  /** Stop fetching, finish the batch in hand, commit, release connections. */
  stop(): Promise<void>;
}

export interface RoleContext {
  overrides: Overrides;
  ops: OpsServer;
}

export type RoleFactory = (ctx: RoleContext) => Role | Promise<Role>;

/**
 * Every role the entry point can run. Loaded lazily so a pod running one role loads only its code.
 * Locally all run in one process; in Kubernetes each Deployment runs one.
 */
export const roleFactories: Record<string, () => Promise<RoleFactory>> = {
  storage: async () => (await import('../consumers/storage')).storageRole,
  anomaly: async () => (await import('../consumers/anomaly')).anomalyRole,
  api: async () => (await import('../api')).apiRole,
  alerts: async () => (await import('../consumers/alerts')).alertsRole,
  breaker: async () => (await import('../consumers/breaker')).breakerRole,
  ingest: async () => (await import('../ingest')).ingestRole,
};

export function roleNames(): string[] {
  return Object.keys(roleFactories);
}
