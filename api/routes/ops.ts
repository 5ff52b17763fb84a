import type { FastifyInstance } from 'fastify';
import type { ApiContext } from '../context';
import { withTimeout } from '../../src/retry';


/**
 * Readiness: Postgres is required (no answer can be given without it) → 503 when down.
 * Redis is an accelerator: when it is down the API still answers correctly from Postgres, so
 * /ready stays 200 and reports `redis: "degraded: …"` with `degraded: true`.
 */
export async function readiness(ctx: ApiContext) {
  const checks: Record<string, string> = {};
  let ready = true;
  let degraded = false;
  try {
    await withTimeout(ctx.pool.query('SELECT 1'), 2000);
    checks.postgres = 'ok';
  } catch (err) {
    ready = false;
    checks.postgres = `failed: ${(err as Error).message}`;
  }
  try {
    if (!ctx.redis) throw new Error('no cache configured');
    await withTimeout(ctx.redis.ping(), 1000);
    checks.redis = 'ok';
  } catch (err) {
    degraded = true;
    checks.redis = `degraded: ${(err as Error).message}; serving from Postgres without cache`;
  }
  return { ready, degraded, checks };
}

/** Served without a token and without a rate limit (probes must always get an answer). */
export const PUBLIC_ROUTES = ['/health', '/ready', '/openapi.json'];

/**
 * /metrics is not served here: it lives on its own port (API_METRICS_PORT, else the process's
 * METRICS_PORT), so the API port can be open to clients while scrapes come only from monitoring.
 */
export function opsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  const hidden = { hide: true } as Record<string, unknown>;
  app.get('/health', { schema: { ...hidden } }, async () => ({ status: 'ok' }));
  app.get('/ready', { schema: { ...hidden } }, async (_req, reply) => {
    const r = await readiness(ctx);
    return reply.code(r.ready ? 200 : 503).send({ status: r.ready ? (r.degraded ? 'ready (degraded)' : 'ready') : 'not ready', degraded: r.degraded, checks: r.checks });
  });
  app.get('/openapi.json', { schema: { ...hidden } }, async () => app.swagger());
}
