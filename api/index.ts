import type { Role, RoleContext } from '../src/roles';
import { intSetting } from '../src/config';
import { logger } from '../src/logging';
import { databaseUrl } from '../src/config';
import { readiness } from '../src/http/readiness';
import { ControlAdminFactory, RunningApi, startApi } from './server';

export { startApi } from './server';
export type { ControlAdminFactory, RunningApi } from './server';
export { createCacheInvalidator } from './cache-invalidation';

/**
 * The `api` role: the REST query service on API_PORT (/health, /ready there; /metrics on the
 * metrics port). `controls` builds the ControlAdmin behind /controls (the composition root passes
 * the breaker's); without it those routes answer 503.
 */
export function apiRole({ overrides, ops }: RoleContext, deps: { controls?: ControlAdminFactory } = {}): Role {
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
      // /metrics stays off API_PORT; the ops server on METRICS_PORT serves it unless API_METRICS_PORT names another port.
      api = await startApi(overrides, { controls: deps.controls, sharedMetricsPort: intSetting('METRICS_PORT', overrides, { max: 65535 }) });
    },
    async stop() {
      await api?.close();
      api = undefined;
      log.info('API stopped');
    },
  };
}
