import client, { Registry } from 'prom-client';

/**
 * One registry per process; every role registers its metrics here. Names follow Prometheus
 * conventions (base units, `_total` counters) and labels never take unbounded values (no post id).
 */
export const registry: Registry = new Registry();
client.collectDefaultMetrics({ register: registry });

/** Returns the existing metric of that name, or registers the one `create` builds. */
export function metric<T>(name: string, create: (registers: Registry[]) => T): T {
  const existing = registry.getSingleMetric(name);
  return (existing as unknown as T) ?? create([registry]);
}

export function counter(name: string, help: string, labelNames: string[] = []): client.Counter<string> {
  return metric(name, (registers) => new client.Counter({ name, help, labelNames, registers }));
}

export function gauge(name: string, help: string, labelNames: string[] = []): client.Gauge<string> {
  return metric(name, (registers) => new client.Gauge({ name, help, labelNames, registers }));
}

export function histogram(name: string, help: string, labelNames: string[] = [], buckets?: number[]): client.Histogram<string> {
  return metric(name, (registers) => new client.Histogram({ name, help, labelNames, registers, ...(buckets ? { buckets } : {}) }));
}

/** Seconds buckets from 1 ms to 30 s, for latencies the pipeline aims to keep under a second. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
