import { isRetriable } from './errors';

export interface RetryOptions {
  retries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** 0..1: share of each delay that is randomised, so many clients do not retry in step. */
  jitter: number;
  /** Called before each wait; may return a delay the peer asked for (e.g. Retry-After). */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Overrides the decision; defaults to the error's `retriable` flag. */
  shouldRetry?: (err: unknown) => boolean;
  /** A delay the error itself asks for (e.g. HTTP 429 Retry-After), in ms. */
  delayFromError?: (err: unknown) => number | undefined;
}

export const defaultRetry: RetryOptions = { retries: 5, initialDelayMs: 100, maxDelayMs: 10_000, jitter: 0.2 };

/** Exponential backoff with jitter for attempt n (0-based). */
export function backoffDelay(attempt: number, opts: Pick<RetryOptions, 'initialDelayMs' | 'maxDelayMs' | 'jitter'>, random = Math.random): number {
  const base = Math.min(opts.maxDelayMs, opts.initialDelayMs * 2 ** attempt);
  const spread = base * opts.jitter;
  return Math.max(0, Math.round(base - spread + random() * 2 * spread));
}

/** The one sleep helper for back-off waits. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Settles as `p` does, or rejects with `timed out after <ms> ms` (or the given message) once `ms`
 * pass first. The timer is cleared either way; `p` itself is not cancelled.
 */
export async function withTimeout<T>(p: Promise<T>, ms: number, message = `timed out after ${ms} ms`): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs `fn` until it succeeds, the error is not retriable, or retries run out.
 * Programmer errors (TypeError, RangeError, …) are never retried.
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: Partial<RetryOptions> = {}): Promise<T> {
  const opts = { ...defaultRetry, ...options };
  const shouldRetry = opts.shouldRetry ?? isRetriable;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (err instanceof TypeError || err instanceof RangeError) throw err;
      if (attempt >= opts.retries || !shouldRetry(err)) throw err;
      const asked = opts.delayFromError?.(err);
      const delay = asked !== undefined ? Math.min(asked, opts.maxDelayMs) : backoffDelay(attempt, opts);
      opts.onRetry?.(err, attempt + 1, delay);
      await sleep(delay);
    }
  }
}
