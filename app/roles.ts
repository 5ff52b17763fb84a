import type { ControlAdminFactory } from '../api';
import type { RoleFactory } from '../src/roles';

/**
 * The composition root: every role the entry point can run, and what each is handed from the
 * others. Each entry loads its role's code when called, so a pod running one role loads only
 * that role (and what it is handed). Locally all run in one process; in Kubernetes each
 * Deployment runs one. Roles never import each other: the wiring between them is here.
 */
export const roleFactories: Record<string, () => Promise<RoleFactory>> = {
  // After each committed batch the query API's cached entries of the posts and personas it touched are replaced.
  storage: async () => {
    const [{ storageRole }, { createCacheInvalidator }] = await Promise.all([import('../consumers/storage'), import('../api/cache-invalidation')]);
    return (ctx) => storageRole(ctx, { commitListeners: [createCacheInvalidator(ctx.overrides)] });
  },
  anomaly: async () => (await import('../consumers/anomaly')).anomalyRole,
  // /controls reads and overrides the circuit breaker's controls.
  api: async () => {
    const { apiRole } = await import('../api');
    return (ctx) => apiRole(ctx, { controls: breakerControlAdmin });
  },
  alerts: async () => (await import('../consumers/alerts')).alertsRole,
  breaker: async () => (await import('../consumers/breaker')).breakerRole,
  // POST /events: cost events over HTTP, published through the SDK's producer.
  ingest: async () => (await import('../ingest')).ingestRole,
};

export function roleNames(): string[] {
  return Object.keys(roleFactories);
}

/** The circuit breaker's ControlAdmin on the API's Redis client and pool, with a Kafka producer of its own. */
export const breakerControlAdmin: ControlAdminFactory = async (deps) => {
  const [{ createControlAdmin }, { createKafka }] = await Promise.all([import('../consumers/breaker/control-admin'), import('../src/kafka/client')]);
  return createControlAdmin({ ...deps, kafka: createKafka(deps.overrides, 'api-controls') });
};
