import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { dependencyFault, isDataError, sqlState } from '../dependency-faults';
import { Logger } from '../logging';
import { CODE_BY_STATUS } from './error-codes';
import { ApiError, unavailable } from './http-errors';

interface AjvIssue {
  keyword: string;
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Turns a schema violation into a sentence naming the parameter and what is wrong with it. */
export function describeValidation(context: string, issue: AjvIssue): { code: string; message: string } {
  const where = context === 'querystring' ? 'query parameter' : context === 'params' ? 'path parameter' : 'body field';
  const name = issue.instancePath.replace(/^\//, '').replace(/\//g, '.');
  switch (issue.keyword) {
    case 'additionalProperties':
      return { code: context === 'querystring' ? 'unknown_parameter' : 'unknown_field', message: `unknown ${where} ${JSON.stringify(String(issue.params.additionalProperty))}` };
    case 'required':
      return { code: 'missing_parameter', message: `missing required ${where} "${String(issue.params.missingProperty)}"` };
    case 'enum':
      return { code: 'invalid_value', message: `${where} "${name}" must be one of ${(issue.params.allowedValues as unknown[]).join(', ')}` };
    case 'type':
      return { code: 'invalid_value', message: `${where} "${name}" must be a single ${String(issue.params.type)}${context === 'querystring' ? ' (given more than once?)' : ''}` };
    default:
      return { code: 'invalid_value', message: `${where} "${name}" ${issue.message ?? 'is invalid'}` };
  }
}

type AnyError = FastifyError & { validation?: AjvIssue[]; validationContext?: string };

/**
 * The one mapping from whatever was thrown to what the client sees. Nothing of the underlying
 * error (SQL, stack, driver message) reaches the body; the server log keeps it.
 */
/** `mediaTypes`: what a 415 says bodies must be (default application/json). */
export function toApiError(err: AnyError, opts: { retryAfterSeconds: number; bodyLimitBytes: number; mediaTypes?: string }): ApiError | null {
  if (err instanceof ApiError) return err;
  if (err.validation?.length) {
    const { code, message } = describeValidation(err.validationContext ?? 'querystring', err.validation[0]);
    return new ApiError(400, code, message);
  }
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError(400, 'invalid_json', 'the request body is not valid JSON');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError(400, 'empty_body', 'the body is empty but Content-Type says application/json; send a JSON object or no Content-Type');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError(400, 'invalid_content_length', 'the body length does not match Content-Length');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError(413, 'body_too_large', `the request body exceeds ${opts.bodyLimitBytes} bytes`);
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError(415, 'unsupported_media_type', `request bodies must be ${opts.mediaTypes ?? 'application/json'}`);
    case 'FST_ERR_BAD_URL':
      return new ApiError(400, 'invalid_url', 'the URL path is not valid percent-encoded UTF-8');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new ApiError(414, 'uri_too_long', 'a path parameter is longer than 512 characters');
  }
  if (isDataError(err)) {
    const state = sqlState(err);
    if (state === '23505') return new ApiError(409, 'conflict', 'the change conflicts with the current state; read it again and retry');
    return new ApiError(400, 'invalid_input', `a parameter holds a value the database refuses as data${state ? ` (SQLSTATE ${state})` : ''}: check ids, numbers and dates`);
  }
  const dependency = dependencyFault(err);
  if (dependency !== null) {
    const what = dependency === 'dependency' ? 'a dependency (Postgres or Redis)' : dependency;
    return unavailable('dependency_unavailable', `${what} is unavailable; retry after ${opts.retryAfterSeconds} s`, opts.retryAfterSeconds, err);
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
    return new ApiError(err.statusCode, CODE_BY_STATUS[err.statusCode] ?? 'bad_request', `request refused (HTTP ${err.statusCode})`);
  }
  return null;
}

export function sendApiError(reply: FastifyReply, e: ApiError): FastifyReply {
  if (e.retryAfterSeconds !== undefined) reply.header('retry-after', String(e.retryAfterSeconds));
  if (e.statusCode === 401) reply.header('www-authenticate', 'Bearer realm="finops"');
  return reply.code(e.statusCode).type('application/json; charset=utf-8').send({ error: e.code, message: e.message });
}

/** Route patterns by method, to tell 405 (path known, method not) from 404. */
export class RouteTable {
  private readonly routes: { method: string; pattern: RegExp }[] = [];
  add(method: string | string[], url: string): void {
    const pattern = new RegExp(`^${url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z_]+/g, '[^/]+')}/?$`);
    for (const m of [method].flat()) this.routes.push({ method: m.toUpperCase(), pattern });
  }
  allowed(path: string): string[] {
    return [...new Set(this.routes.filter((r) => r.pattern.test(path)).map((r) => r.method))];
  }
}

export function installErrorHandling(app: FastifyInstance, log: Logger, opts: { retryAfterSeconds: number; bodyLimitBytes: number; mediaTypes?: string }, routes: RouteTable): void {
  app.setErrorHandler((err: AnyError, req, reply) => {
    const mapped = toApiError(err, opts);
    if (mapped) {
      if (mapped.statusCode >= 500) log.warn({ err: err.message, sqlstate: sqlState(err), route: req.routeOptions.url, reqId: req.id }, `answered ${mapped.statusCode} ${mapped.code}`);
      return sendApiError(reply, mapped);
    }
    log.error({ err, route: req.routeOptions.url, reqId: req.id }, 'request failed');
    return sendApiError(reply, new ApiError(500, 'internal', `internal error (request ${req.id}); details are in the server log`));
  });
  app.setNotFoundHandler((req: FastifyRequest, reply) => {
    const path = req.url.split('?')[0];
    const allowed = routes.allowed(path);
    if (allowed.length) {
      reply.header('allow', [...new Set([...allowed, ...(allowed.includes('GET') ? ['HEAD'] : [])])].join(', '));
      return sendApiError(reply, new ApiError(405, 'method_not_allowed', `${req.method} is not allowed here; allowed: ${allowed.join(', ')}`));
    }
    return sendApiError(reply, new ApiError(404, 'not_found', 'no such route; see /openapi.json'));
  });
}
