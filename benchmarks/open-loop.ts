/**
 * Open-loop HTTP load at a constant arrival rate, for latency figures that mean "at X requests/s".
 *
 * Requests are sent on a fixed schedule (request i at start + i/rate) whatever the responses do,
 * and each latency runs from the request's scheduled time to the last byte of its response, so a
 * stalled server shows up as latency instead of as fewer requests (no coordinated omission).
 * Closed-loop tools with a rate cap send each connection's per-second quota back to back at the
 * start of every second, which measures bursts of `connections` concurrent requests instead.
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';

export interface OpenLoopOptions {
  base: string;
  headers: Record<string, string>;
  pathFor: () => string;
  rate: number;
  seconds: number;
  /** Keep-alive sockets at most; requests beyond them wait (and their wait counts as latency). */
  maxSockets?: number;
  /** A response not complete after this is an error. */
  timeoutMs?: number;
  /** Also report percentiles per value of this response header (e.g. x-cache: hit / miss). */
  groupByHeader?: string;
}

export interface OpenLoopResult {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  groups?: Record<string, { requests: number; p50: number; p99: number }>;
}

/** Share of CPU time the hypervisor gave to other guests (steal) between two /proc/stat readings, in %. */
export function cpuTimes(): { steal: number; total: number } {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { steal: f[7] ?? 0, total: f.reduce((a: number, b: number) => a + b, 0) };
  } catch {
    return { steal: 0, total: 0 };
  }
}

export function stealPercent(from: { steal: number; total: number }, to = cpuTimes()): number {
  const total = to.total - from.total;
  return total > 0 ? Math.round(((to.steal - from.steal) / total) * 1000) / 10 : 0;
}

export function percentile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export async function openLoop(opts: OpenLoopOptions): Promise<OpenLoopResult> {
  const url = new URL(opts.base);
  const pool = new Pool(opts.base, { connections: opts.maxSockets ?? 64, pipelining: 1, headersTimeout: opts.timeoutMs ?? 10_000, bodyTimeout: opts.timeoutMs ?? 10_000 });
  const total = Math.round(opts.rate * opts.seconds);
  const interval = 1000 / opts.rate;
  const latencies: number[] = [];
  const grouped = new Map<string, number[]>();
  let errors = 0;
  let settled = 0;
  let sent = 0;

  return new Promise<OpenLoopResult>((resolve) => {
    const start = performance.now();
    const finishIfDone = () => {
      if (settled < total) return;
      void pool.destroy();
      latencies.sort((a, b) => a - b);
      const r2 = (x: number) => Math.round(x * 100) / 100;
      const groups = opts.groupByHeader
        ? Object.fromEntries(
            [...grouped].map(([k, v]) => {
              v.sort((a, b) => a - b);
              return [k, { requests: v.length, p50: r2(percentile(v, 0.5)), p99: r2(percentile(v, 0.99)) }];
            }),
          )
        : undefined;
      resolve({
        requests: latencies.length,
        errors,
        rps: r2(latencies.length / ((performance.now() - start) / 1000)),
        p50: r2(percentile(latencies, 0.5)),
        p95: r2(percentile(latencies, 0.95)),
        p99: r2(percentile(latencies, 0.99)),
        max: r2(latencies[latencies.length - 1] ?? NaN),
        groups,
      });
    };
    const fire = (scheduled: number) => {
      let done = false;
      const end = (ok: boolean, group?: string) => {
        if (done) return;
        done = true;
        settled++;
        if (ok) {
          const ms = performance.now() - scheduled;
          latencies.push(ms);
          if (group !== undefined) (grouped.get(group) ?? grouped.set(group, []).get(group)!).push(ms);
        } else errors++;
        finishIfDone();
      };
      const headerName = opts.groupByHeader?.toLowerCase();
      let status = 0;
      let group: string | undefined;
      pool.dispatch(
        { method: 'GET', path: opts.pathFor(), headers: opts.headers },
        {
          onConnect: () => undefined,
          onHeaders: (statusCode: number, raw: Buffer[] | string[] | null) => {
            status = statusCode;
            if (headerName && raw) {
              group = 'none';
              for (let i = 0; i < raw.length; i += 2) if (String(raw[i]).toLowerCase() === headerName) group = String(raw[i + 1]);
            }
            return true;
          },
          onData: () => true,
          onComplete: () => end(status === 200, group),
          onError: () => end(false),
        },
      );
    };
    const tick = () => {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      while (sent < due) fire(start + sent++ * interval);
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}
