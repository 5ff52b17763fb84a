import type { RoleFactory } from '../src/roles';

/**
 * The composition root: every role the entry point can run, and what each is handed from the
 * others. Each entry loads its role's code when called, so a pod running one role loads only
 * that role (and what it is handed). Locally all run in one process; in Kubernetes each
 * Deployment runs one. Roles never import each other: the wiring between them is here.
 */
export const roleFactories: Record<string, () => Promise<RoleFactory>> = {
  storage: async () => (await import('../consumers/storage')).storageRole,
  anomaly: async () => (await import('../consumers/anomaly')).anomalyRole,
  api: async () => (await import('../api')).apiRole,
  alerts: async () => (await import('../consumers/alerts')).alertsRole,
  breaker: async () => (await import('../consumers/breaker')).breakerRole,
};

export function roleNames(): string[] {
  return Object.keys(roleFactories);
}
