import { STATUS_CODES, type ServerOptions } from 'node:http';
import type { Duplex } from 'node:stream';
import Fastify, { FastifyBaseLogger, FastifyInstance, FastifyServerOptions } from 'fastify';
import type { TokenTable } from './auth';
import { installErrorHandling, RouteTable, sendApiError, toApiError } from './errors-handler';
import { ApiError } from './http-errors';
import { registerOpenApi } from './openapi';
import { installBearerAuth, installRateLimit, type RateLimitOptions } from './request-guards';
import type { Logger } from 'pino';
import { logger } from '../logging';

/** Bounds on what one request may take; each phase of a request has a deadline (slowloris, stalled bodies, idle sockets). */
export interface HttpLimits {
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs?: number;
  connectionTimeoutMs?: number;
  headersTimeoutMs?: number;
  maxHeaderBytes?: number;
}

export interface HttpAppOptions {
  /** Log component: `<component>` for the app, `<component>-http` for Fastify's own lines. */
  component: string;
  limits: HttpLimits;
  retryAfterSeconds: number;
  /** The media types the app accepts, named in its 415 answers. */
  mediaTypes?: string;
  openApi: { title: string; description: string };
  tokens: TokenTable;
  rateLimit: Omit<RateLimitOptions, 'tokens'>;
  onAuthFailure: (reason: string) => void;
  fastify?: Pick<FastifyServerOptions, 'routerOptions' | 'ajv'>;
}

/**
 * The HTTP roles' common ground (the query API and HTTP ingest): one error model for every
 * answer, including Fastify's and Node's parser errors; deadlines on every phase of a request;
 * JSON bodies only; the OpenAPI document; the rate limit (before authentication, so failed-auth
 * floods are limited per address) and bearer tokens with scopes. The caller adds its hooks and routes.
 */
export async function createHttpApp(o: HttpAppOptions): Promise<{ app: FastifyInstance; log: Logger }> {
  const log = logger(o.component);
  // Fastify's own logs go to pino at warn or above: request logs (info) are dropped, errors kept.
  const httpLog = logger(`${o.component}-http`);
  if (httpLog.levelVal < 40) httpLog.level = 'warn';
  const l = o.limits;
  const errorOpts = { retryAfterSeconds: o.retryAfterSeconds, bodyLimitBytes: l.bodyLimitBytes, mediaTypes: o.mediaTypes };
  const http: ServerOptions = {};
  if (l.headersTimeoutMs !== undefined) {
    http.headersTimeout = l.headersTimeoutMs;
    // Node checks the request deadline every second, not every 30 s.
    http.connectionsCheckingInterval = Math.min(1000, l.headersTimeoutMs);
  }
  if (l.maxHeaderBytes !== undefined) http.maxHeaderSize = l.maxHeaderBytes;

  const app = Fastify({
    ...o.fastify,
    loggerInstance: httpLog as unknown as FastifyBaseLogger,
    bodyLimit: l.bodyLimitBytes,
    requestTimeout: l.requestTimeoutMs,
    ...(l.keepAliveTimeoutMs !== undefined ? { keepAliveTimeout: l.keepAliveTimeoutMs } : {}),
    ...(l.connectionTimeoutMs !== undefined ? { connectionTimeout: l.connectionTimeoutMs } : {}),
    http,
    return503OnClosing: true,
    frameworkErrors: (err, _req, reply) => sendApiError(reply, toApiError(err, errorOpts) ?? new ApiError(400, 'bad_request', 'malformed request')),
    clientErrorHandler: (err: NodeJS.ErrnoException, socket: Duplex) => writeClientError(err, socket, l),
  });
  // Bodies are JSON only: without its text/plain parser Fastify answers anything else with 415.
  app.removeContentTypeParser('text/plain');
  const routes = new RouteTable();
  app.addHook('onRoute', (r) => routes.add(r.method, r.url));
  installErrorHandling(app, log, errorOpts, routes);
  await registerOpenApi(app, o.openApi);
  await installRateLimit(app, { ...o.rateLimit, tokens: o.tokens });
  installBearerAuth(app, o.tokens, log, o.onAuthFailure);
  return { app, log };
}

/** Errors Node's HTTP parser raises before a request exists (timeouts, oversized heads, garbage). */
function writeClientError(err: NodeJS.ErrnoException, socket: Duplex, l: HttpLimits): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'request_timeout', `the request did not arrive completely within ${l.requestTimeoutMs} ms`]
    : err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'header_too_large', `the request line and headers exceed ${l.maxHeaderBytes ?? 16_384} bytes`]
    : [400, 'bad_request', 'malformed HTTP request'];
  const body = JSON.stringify({ error: code, message });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}
