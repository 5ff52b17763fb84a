/**
 * One error base for the pipeline. `retriable` is the only thing the retry module looks at:
 * a retriable error is a passing fault of a dependency (broker, database, registry, HTTP peer);
 * anything else is either bad input (dead-letter it) or a bug (let it crash loudly).
 */
export class FinOpsError extends Error {
  readonly retriable: boolean;
  override readonly cause?: unknown;

  constructor(message: string, opts: { retriable?: boolean; cause?: unknown } = {}) {
    super(message);
    this.name = new.target.name;
    this.retriable = opts.retriable ?? false;
    this.cause = opts.cause;
  }
}

/** Configuration that cannot work; the message says how to fix it. */
export class ConfigError extends FinOpsError {}

/** A message or request that is wrong in itself; retrying cannot help. Consumers dead-letter it. */
export class InvalidInputError extends FinOpsError {
  /** Short machine-readable reason, e.g. `amount.negative`, used in dead-letter headers and metrics. */
  readonly reason: string;
  constructor(reason: string, message: string, opts: { cause?: unknown } = {}) {
    super(message, { retriable: false, cause: opts.cause });
    this.reason = reason;
  }
}

/** A cost for a model with no known price, when configured to reject rather than flag. */
export class UnknownModelError extends InvalidInputError {
  constructor(readonly model: string) {
    super('pricing.unknown_model', `no price is known for model ${JSON.stringify(model)}; add it to PRICING_MODEL_OVERRIDES or set PRICING_UNKNOWN_MODEL=flag`);
  }
}

/** A dependency (Kafka, Postgres, Redis, registry, HTTP peer) failed in a way that may pass. */
export class DependencyError extends FinOpsError {
  constructor(readonly dependency: string, message: string, opts: { cause?: unknown; retriable?: boolean } = {}) {
    super(`${dependency}: ${message}`, { retriable: opts.retriable ?? true, cause: opts.cause });
  }
}

/** The SDK was used after close(), or asked to buffer beyond its bound without waiting. */
export class ProducerClosedError extends FinOpsError {}

/**
 * An SDK call whose event was not acknowledged by Kafka within SDK_DELIVERY_TIMEOUT_MS.
 * `maybeStored` is false when the event never left the SDK's buffer (it is certainly not stored)
 * and true when it had been sent (the broker may have written it). Either way, retrying the call
 * with the same `eventId` is safe: the ledger holds one row per event id.
 */
export class DeliveryTimeoutError extends FinOpsError {
  constructor(readonly eventId: string, readonly maybeStored: boolean, timeoutMs: number) {
    super(
      `event ${eventId} was not acknowledged by Kafka within ${timeoutMs} ms (SDK_DELIVERY_TIMEOUT_MS); ` +
        (maybeStored ? 'it had been sent and may have been stored' : 'it was never sent') + '; retry with the same eventId',
      { retriable: true },
    );
  }
}

export function isRetriable(err: unknown): boolean {
  if (err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError || err instanceof ReferenceError) return false;
  if (err instanceof FinOpsError) return err.retriable;
  // kafkajs marks its own errors with `retriable`.
  if (err && typeof err === 'object' && 'retriable' in err) return Boolean((err as { retriable: unknown }).retriable);
  return false;
}
