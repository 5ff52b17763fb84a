import { FinOpsError } from '../src/errors';

/** The persona is paused by the circuit breaker; retry after `resumeAt`. */
export class PausedError extends FinOpsError {
  constructor(readonly personaId: string, readonly resumeAt: Date, readonly reason: string) {
    super(`persona ${personaId} is paused until ${resumeAt.toISOString()}: ${reason}`, { retriable: false });
  }
}

/** The persona is throttled and no token frees up within the allowed wait. */
export class ThrottledError extends FinOpsError {
  constructor(readonly personaId: string, readonly retryAfterMs: number, readonly requestsPerMinute: number) {
    super(`persona ${personaId} is throttled to ${requestsPerMinute} requests/minute; retry in ${retryAfterMs} ms`, { retriable: true });
  }
}

/** Redis is unreachable and the guard is configured to fail closed. */
export class GuardUnavailableError extends FinOpsError {
  constructor(message: string, cause?: unknown) {
    super(message, { retriable: true, cause });
  }
}
