import type { FastifyInstance } from 'fastify';
import { createHttpApp } from '../src/http/fastify-app';
import { counter } from '../src/metrics';
import type { ApiContext } from './context';
import { rejectControlCharacters } from './control-characters';
import { apiMetrics } from './metrics';
import { anomalyRoutes } from './routes/anomalies';
import { auditRoutes } from './routes/audit';
import { breakdownRoutes } from './routes/breakdown';
import { budgetRoutes } from './routes/budgets';
import { scopedBudgetRoutes } from './routes/scoped-budgets';
import { controlRoutes } from './routes/controls';
import { opsRoutes, PUBLIC_ROUTES } from './routes/ops';
import { ledgerRoutes } from './routes/ledger';
import { postCostRoutes } from './routes/post-costs';

const authFailures = counter('finops_api_auth_failures_total', 'Requests refused by authentication or scope, by reason (missing, malformed, unknown_token, missing_scope).', ['reason']);
const rateLimited = counter('finops_api_rate_limited_total', 'Requests refused with 429, by kind of client (token, anonymous).', ['client']);

/** Builds the REST app over its dependencies (no listening, no connections of its own). */
export async function buildApp(ctx: ApiContext): Promise<FastifyInstance> {
  const cfg = ctx.config;
  const { app } = await createHttpApp({
    component: 'api',
    limits: {
      bodyLimitBytes: cfg.bodyLimitBytes, requestTimeoutMs: cfg.requestTimeoutMs, keepAliveTimeoutMs: cfg.keepAliveTimeoutMs,
      connectionTimeoutMs: cfg.connectionTimeoutMs, headersTimeoutMs: cfg.headersTimeoutMs, maxHeaderBytes: cfg.maxHeaderBytes,
    },
    retryAfterSeconds: cfg.retryAfterSeconds,
    // Query values stay strings (no coercion, no silently dropped unknown parameters): the schemas
    // reject unknown parameters and the handlers parse values with messages that name the problem.
    fastify: { routerOptions: { maxParamLength: 512 }, ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } } },
    openApi: {
      title: 'FinOps cost query API',
      description:
        'Money is returned as exact USD decimal strings with 9 decimals. Bearer tokens carry the read or operator scope. ' +
        'Errors are {"error": snake_case code, "message": text}; 429 and 503 carry Retry-After. See docs/api.md and docs/security.md.',
    },
    tokens: cfg.tokens,
    rateLimit: {
      redis: ctx.redis, nameSpace: `${cfg.cachePrefix}rl:`, max: cfg.rateLimit.max, anonymousMax: cfg.rateLimit.anonymousMax,
      windowMs: cfg.rateLimit.windowMs, publicRoutes: PUBLIC_ROUTES, onLimited: (client) => rateLimited.inc({ client }),
    },
    onAuthFailure: (reason) => authFailures.inc({ reason }),
  });
  // Every id and text parameter (path, query, body) is free of NUL and other control characters
  // before the schemas or any handler see it.
  app.addHook('preValidation', async (req) => {
    rejectControlCharacters([['path parameter', req.params], ['query parameter', req.query], ['body field', req.body]]);
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
  scopedBudgetRoutes(app, ctx);
  auditRoutes(app, ctx);
  ledgerRoutes(app, ctx);
  await app.ready();
  return app;
}
