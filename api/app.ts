import Fastify, { FastifyBaseLogger, FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { logger } from '../src/logging';
import { authorize } from './auth';
import type { ApiContext } from './context';
import { installErrorHandling } from './errors-handler';
import { apiMetrics } from './metrics';
import { anomalyRoutes } from './routes/anomalies';
import { breakdownRoutes } from './routes/breakdown';
import { budgetRoutes } from './routes/budgets';
import { controlRoutes } from './routes/controls';
import { opsRoutes } from './routes/ops';
import { postCostRoutes } from './routes/post-costs';

/** Builds the REST app over its dependencies (no listening, no connections of its own). */
export async function buildApp(ctx: ApiContext): Promise<FastifyInstance> {
  const log = logger('api');
  // Fastify's own logs go to pino at warn or above: request logs (info) are dropped, errors kept.
  const httpLog = logger('api-http');
  if (httpLog.levelVal < 40) httpLog.level = 'warn';
  const app = Fastify({
    loggerInstance: httpLog as unknown as FastifyBaseLogger,
    routerOptions: { maxParamLength: 512 },
    // Query values stay strings (no coercion, no silently dropped unknown parameters): the schemas
    // reject unknown parameters and the handlers parse values with messages that name the problem.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  installErrorHandling(app, log);

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'FinOps cost query API',
        version: '1.0.0',
        description: 'Money is returned as exact USD decimal strings with 9 decimals. Bearer tokens carry the read or operator scope.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.addHook('onRequest', async (req, reply) => {
    const scope = req.routeOptions.config.scope;
    if (!scope) return;
    const outcome = authorize(req.headers.authorization, ctx.config.tokens, scope);
    if (!outcome.ok) {
      if (outcome.status === 401) reply.header('www-authenticate', 'Bearer realm="finops"');
      return reply.code(outcome.status).send({ error: outcome.status === 401 ? 'unauthorized' : 'forbidden', message: outcome.message });
    }
    req.principal = outcome.principal;
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    apiMetrics.requests.inc({ route, method: req.method, status_code: String(reply.statusCode) });
    apiMetrics.duration.observe({ route }, reply.elapsedTime / 1000);
  });

  opsRoutes(app, ctx);
  postCostRoutes(app, ctx);
  breakdownRoutes(app, ctx);
  anomalyRoutes(app, ctx);
  controlRoutes(app, ctx);
  budgetRoutes(app, ctx);
  await app.ready();
  return app;
}
