import { FinOpsError } from '../errors';

/**
 * The API's one error type: the HTTP status, the machine-readable snake_case code (docs/api.md,
 * "Errors") and a message naming the problem. Every failure a client sees is one of these; the
 * error handler (errors-handler.ts) maps framework, Postgres and Redis errors onto it.
 * A 503 or 429 is retriable and carries the Retry-After it asks for.
 */
export class ApiError extends FinOpsError {
  readonly retryAfterSeconds: number | undefined;
  constructor(readonly statusCode: number, readonly code: string, message: string, opts: { retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, { retriable: statusCode === 503 || statusCode === 429, cause: opts.cause });
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}

export const badRequest = (code: string, message: string) => new ApiError(400, code, message);
export const notFound = (message: string) => new ApiError(404, 'not_found', message);
export const unavailable = (code: string, message: string, retryAfterSeconds: number, cause?: unknown) => new ApiError(503, code, message, { retryAfterSeconds, cause });
