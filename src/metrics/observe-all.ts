import type client from 'prom-client';

/** What prom-client 15 keeps for a histogram (lib/histogram.js), read only by observeAll. */
interface HistogramState {
  upperBounds?: readonly number[];
  sortedLabelNames?: string[];
  hashMap?: Record<string, { sum: number; count: number; bucketValues: Record<number, number> } | undefined>;
}

// prom-client's own key of a series in hashMap (the module has no types of its own).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { hashObject } = require('prom-client/lib/util') as { hashObject(labels: Record<string, string>, labelNames?: string[]): string };

/**
 * Observes the first `n` of `values` in a histogram's series of `labels`: what calling observe()
 * for each would record, for the price of one loop. prom-client's observe builds label objects, a
 * series key and a closure on every call, which on the storage path (a latency per stored event, a
 * cost per settled post) cost more than the sums it keeps. Where the histogram's state is not as
 * expected it falls back to observe().
 */
export function observeAll(histogram: client.Histogram<string>, values: ArrayLike<number>, n = values.length, labels: Record<string, string> = {}): void {
  if (n === 0) return;
  const state = histogram as unknown as HistogramState;
  const bounds = state.upperBounds;
  const key = state.sortedLabelNames ? hashObject(labels, state.sortedLabelNames) : undefined;
  let entry = key === undefined ? undefined : state.hashMap?.[key];
  if (!entry && key !== undefined && bounds) {
    histogram.observe(labels, values[0]); // creates the series, validating its labels
    entry = state.hashMap?.[key];
    if (entry) return observeAll(histogram, Array.prototype.slice.call(values, 1, n) as number[], n - 1, labels);
  }
  if (!bounds || !entry || typeof entry.count !== 'number') {
    for (let i = 0; i < n; i++) histogram.observe(labels, values[i]);
    return;
  }
  const counts = new Array<number>(bounds.length).fill(0);
  let sum = 0;
  let observed = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) throw new TypeError(`Value is not a valid number: ${v}`);
    sum += v;
    observed++;
    for (let b = 0; b < bounds.length; b++) {
      if (v <= bounds[b]) {
        counts[b]++;
        break;
      }
    }
  }
  entry.sum += sum;
  entry.count += observed;
  for (let b = 0; b < bounds.length; b++) if (counts[b] > 0) entry.bucketValues[bounds[b]] += counts[b];
}
