import type { FastifyError, FastifyInstance } from 'fastify';
import { Logger } from '../src/logging';
import { ApiError } from './http-errors';

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
      return { code: context === 'querystring' ? 'unknown_parameter' : 'unknown_field', message: `unknown ${where} "${String(issue.params.additionalProperty)}"` };
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

export function installErrorHandling(app: FastifyInstance, log: Logger): void {
  app.setErrorHandler((err: FastifyError & { validation?: AjvIssue[]; validationContext?: string }, req, reply) => {
    if (err instanceof ApiError) return reply.code(err.statusCode).send({ error: err.code, message: err.message });
    if (err.validation?.length) {
      const { code, message } = describeValidation(err.validationContext ?? 'querystring', err.validation[0]);
      return reply.code(400).send({ error: code, message });
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(err.statusCode).send({ error: err.code ?? 'bad_request', message: err.message });
    }
    log.error({ err, route: req.routeOptions.url, reqId: req.id }, 'request failed');
    return reply.code(500).send({ error: 'internal', message: `internal error (request ${req.id}); details are in the server log` });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}; see /openapi.json` }));
}
