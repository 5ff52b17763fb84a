import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { logger } from '../src/logging';
import { counter } from '../src/metrics';
import { installBearerAuth, installRateLimit } from '../src/http/request-guards';
import type { ApiContext } from './context';
import { rejectControlCharacters } from './control-characters';
import { installErrorHandling, RouteTable, sendApiError, toApiError } from '../src/http/errors-handler';
import { ApiError } from '../src/http/http-errors';
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
import { registerOpenApi } from '../src/http/openapi';

const authFailures = counter('finops_api_auth_failures_total', 'Requests refused by authentication or scope, by reason (missing, malformed, unknown_token, missing_scope).', ['reason']);
const rateLimited = counter('finops_api_rate_limited_total', 'Requests refused with 429, by kind of client (token, anonymous).', ['client']);

/** Builds the REST app over its dependencies (no listening, no connections of its own). */
export async function buildApp(ctx: ApiContext): Promise<FastifyInstance> {
  const log = logger('api');
  const cfg = ctx.config;
  // Fastify's own logs go to pino at warn or above: request logs (info) are dropped, errors kept.
  const httpLog = logger('api-http');
  if (httpLog.levelVal < 40) httpLog.level = 'warn';
  const errorOpts = { retryAfterSeconds: cfg.retryAfterSeconds, bodyLimitBytes: cfg.bodyLimitBytes };

  const app = Fastify({
    loggerInstance: httpLog as unknown as FastifyBaseLogger,
    routerOptions: { maxParamLength: 512 },
    // Query values stay strings (no coercion, no silently dropped unknown parameters): the schemas
    // reject unknown parameters and the handlers parse values with messages that name the problem.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // Bounded resources: small bodies, and every phase of a request has a deadline (slowloris,
    // stalled bodies, idle sockets). Node checks the request deadline every second, not every 30 s.
    bodyLimit: cfg.bodyLimitBytes,
    requestTimeout: cfg.requestTimeoutMs,
    keepAliveTimeout: cfg.keepAliveTimeoutMs,
    connectionTimeout: cfg.connectionTimeoutMs,
    http: { headersTimeout: cfg.headersTimeoutMs, maxHeaderSize: cfg.maxHeaderBytes, connectionsCheckingInterval: Math.min(1000, cfg.headersTimeoutMs) },
    return503OnClosing: true,
    frameworkErrors: (err, _req, reply) => sendApiError(reply, toApiError(err, errorOpts) ?? new ApiError(400, 'bad_request', 'malformed request')),
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Duplex) => writeClientError(err, socket, cfg.requestTimeoutMs, cfg.maxHeaderBytes),
  });
  // Bodies are JSON only: without its text/plain parser Fastify answers anything else with 415.
  app.removeContentTypeParser('text/plain');
  const routes = new RouteTable();
  app.addHook('onRoute', (r) => routes.add(r.method, r.url));
  installErrorHandling(app, log, errorOpts, routes);

  await registerOpenApi(app, {
    title: 'FinOps cost query API',
    description:
      'Money is returned as exact USD decimal strings with 9 decimals. Bearer tokens carry the read or operator scope. ' +
      'Errors are {"error": snake_case code, "message": text}; 429 and 503 carry Retry-After. See docs/api.md and docs/security.md.',
  });

  // Rate limit first (before auth), keyed by token, so failed-auth floods are limited per address.
  await installRateLimit(app, {
    redis: ctx.redis, nameSpace: `${cfg.cachePrefix}rl:`, max: cfg.rateLimit.max, anonymousMax: cfg.rateLimit.anonymousMax,
    windowMs: cfg.rateLimit.windowMs, tokens: cfg.tokens, publicRoutes: PUBLIC_ROUTES, onLimited: (client) => rateLimited.inc({ client }),
  });
  installBearerAuth(app, cfg.tokens, log, (reason) => authFailures.inc({ reason }));
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

/** Errors Node's HTTP parser raises before a request exists (timeouts, oversized heads, garbage). */
function writeClientError(err: NodeJS.ErrnoException, socket: Duplex, requestTimeoutMs: number, maxHeaderBytes: number): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request_timeout', `the request did not arrive completely within ${requestTimeoutMs} ms`]
    : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'header_too_large', `the request line and headers exceed ${maxHeaderBytes} bytes`]
    : [400, 'bad_request', 'malformed HTTP request'];
  const body = JSON.stringify({ error: code, message });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}
