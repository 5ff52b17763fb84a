import http from 'node:http';
import { AddressInfo } from 'node:net';
import { registry } from '../metrics';
import { logger } from '../logging';
import { withTimeout } from '../retry';

export type ReadinessCheck = () => Promise<void>;

const log = logger('ops-server');
const CHECK_TIMEOUT_MS = 2000;

/** Runs checks at once, each bounded by a timeout; maps each name to 'ok' or why it failed. */
export async function runChecks(checks: Iterable<[string, ReadinessCheck]>): Promise<Record<string, string>> {
  const results: Record<string, string> = {};
  await Promise.all(
    [...checks].map(async ([name, check]) => {
      try {
        await withTimeout(check(), CHECK_TIMEOUT_MS, `timed out after ${CHECK_TIMEOUT_MS / 1000} s`);
        results[name] = 'ok';
      } catch (err) {
        results[name] = (err as Error).message || 'failed';
      }
    }),
  );
  return results;
}

/**
 * Serves /metrics (Prometheus), /health (the process is alive) and /ready (every dependency
 * check passes; the body names the ones that fail).
 */
export class OpsServer {
  private server: http.Server | undefined;
  private readonly checks = new Map<string, ReadinessCheck>();
  private readonly deps = new Map<string, ReadinessCheck>();
  private shuttingDown = false;
  private startup: string | undefined;

  addReadinessCheck(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** A dependency the roles need before they start (see cli `run`), and a readiness check after. */
  addDependency(name: string, check: ReadinessCheck): void {
    this.deps.set(name, check);
    this.checks.set(name, check);
  }

  get dependencies(): ReadonlyMap<string, ReadinessCheck> {
    return this.deps;
  }

  /** While set, /ready answers 503 with this under `startup` (e.g. waiting for dependencies). */
  setStartup(state: string | undefined): void {
    this.startup = state;
  }

  /** After this, /ready answers 503 so the orchestrator stops routing to a draining process. */
  markShuttingDown(): void {
    this.shuttingDown = true;
  }

  async readiness(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const results = await runChecks(this.checks);
    if (this.startup) results.startup = this.startup;
    const ready = !this.shuttingDown && Object.values(results).every((r) => r === 'ok');
    if (this.shuttingDown) results.process = 'shutting down';
    return { ready, checks: results };
  }

  async start(port: number, host = '0.0.0.0'): Promise<number> {
    this.server = http.createServer((req, res) => {
      void this.handle(req, res).catch((err) => {
        log.error({ err }, 'ops request failed');
        res.writeHead(500).end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(port, host, () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const [url, query = ''] = (req.url ?? '/').split('?');
    if (url === '/metrics') {
      // `?name[]=a&name[]=b` (or `name=a`) renders only those metrics: a full render holds every
      // per-persona series, which a progress poll or a narrow scrape job need not pay for.
      const params = new URLSearchParams(query);
      const names = [...params.getAll('name[]'), ...params.getAll('name')];
      const unknown = names.filter((n) => !registry.getSingleMetric(n));
      if (unknown.length > 0) {
        res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no metric named ${unknown.map((n) => JSON.stringify(n)).join(', ')}` }));
        return;
      }
      res.writeHead(200, { 'content-type': registry.contentType });
      res.end(names.length > 0 ? (await Promise.all(names.map((n) => registry.getSingleMetricAsString(n)))).join('\n') + '\n' : await registry.metrics());
    } else if (url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'ok' }));
    } else if (url === '/ready') {
      const r = await this.readiness();
      res.writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: r.ready ? 'ready' : 'not ready', checks: r.checks }));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no route ${url}; try /metrics, /health or /ready` }));
    }
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }
}
