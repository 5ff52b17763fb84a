import type { Role, RoleContext } from '../src/roles';
import { logger } from '../src/logging';
import { databaseUrl } from '../src/config';
import { readiness } from '../src/http/readiness';
import { RunningApi, startApi } from './server';

export { startApi } from './server';
export type { RunningApi } from './server';
export { createCacheInvalidator } from './cache-invalidation';

/** The `api` role: the REST query service on API_PORT (it also serves /health, /ready, /metrics there). */
export function apiRole({ overrides, ops }: RoleContext): Role {
  const log = logger('api');
  let api: RunningApi | undefined;
  // Before start the API's pool does not exist yet: the check connects on its own until then.
  const beforeStart = readiness.postgresSchemaAt(() => databaseUrl('api', overrides));
  ops.addDependency('api-postgres', async () => {
    if (!api) return beforeStart();
    await api.ctx.pool.query('SELECT 1');
  });
  return {
    name: 'api',
    async start() {
      api = await startApi(overrides);
    },
    async stop() {
      await api?.close();
      api = undefined;
      log.info('API stopped');
    },
  };
}
