import { counter, histogram, LATENCY_BUCKETS } from './index';

/**
 * Operational metrics every role can share. Label values come from small fixed sets chosen in
 * code (dependency names, operation names), never from message content.
 */
const DEPENDENCIES = ['postgres', 'redis', 'schema_registry', 'kafka'] as const;

export function operationalMetrics() {
  const m = {
    /** The seed's `finops_operation_latency_ms`, in base units (seconds). */
    operationLatency: histogram(
      'finops_operation_latency_seconds',
      'Duration of one pipeline operation (a storage batch, a detection pass, an alert delivery, an API request), by operation.',
      ['operation'],
      LATENCY_BUCKETS,
    ),
    /** Failures talking to a dependency; retried ones included (each attempt that failed counts). */
    dependencyErrors: counter(
      'finops_dependency_errors_total',
      'Failed calls to a dependency (postgres, redis, schema_registry, kafka), retried ones included.',
      ['dependency'],
    ),
  };
  // Every dependency's series exists from the start (at 0), so rate() and increase() see the first error.
  for (const dependency of DEPENDENCIES) m.dependencyErrors.inc({ dependency }, 0);
  return m;
}

export type Dependency = (typeof DEPENDENCIES)[number];

/** Counts one failed call to `dependency`. */
export function dependencyError(dependency: Dependency): void {
  operationalMetrics().dependencyErrors.inc({ dependency });
}

/** Times `fn` into finops_operation_latency_seconds{operation}. */
export async function timeOperation<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  const end = operationalMetrics().operationLatency.startTimer({ operation });
  try {
    return await fn();
  } finally {
    end();
  }
}
