import type { Role, RoleContext } from '../src/roles';
import { logger } from '../src/logging';
import { RunningApi, startApi } from './server';

export { startApi } from './server';
export type { RunningApi } from './server';
export { createCacheInvalidator } from './cache-invalidation';

/** The `api` role: the REST query service on API_PORT (it also serves /health, /ready, /metrics there). */
export function apiRole({ overrides, ops }: RoleContext): Role {
  const log = logger('api');
  let api: RunningApi | undefined;
  ops.addReadinessCheck('api-postgres', async () => {
    if (!api) throw new Error('API not started');
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
