import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { waitFor } from '../helpers/wait-for';

export const ROOT = join(__dirname, '..', '..');
export const RULES_FILE = join(ROOT, 'prometheus', 'rules', 'finops.rules.yml');
export const DASHBOARDS = ['executive', 'technical'].map((n) => join(ROOT, 'grafana', 'dashboards', `${n}.json`));

export interface Expression {
  source: string;
  expr: string;
}

/** Every PromQL expression in the dashboards (panel targets). */
export function dashboardExpressions(): Expression[] {
  const out: Expression[] = [];
  for (const file of DASHBOARDS) {
    const d = JSON.parse(readFileSync(file, 'utf8')) as { uid: string; panels: { title: string; targets?: { expr: string; refId: string }[] }[] };
    for (const p of d.panels) for (const t of p.targets ?? []) out.push({ source: `${d.uid} / ${p.title} / ${t.refId}`, expr: t.expr });
  }
  return out;
}

export interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
}

export function ruleGroups(file = RULES_FILE): { name: string; rules: Rule[] }[] {
  return (parse(readFileSync(file, 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups;
}

/**
 * An alert expression is empty while all is well (that is the point of its threshold). To prove it
 * names metrics and labels that exist, each threshold comparison `OP number` is replaced by
 * `!= NaN`, which keeps every sample (in PromQL, x != NaN is always true): the relaxed expression
 * returns data exactly when every series the rule joins on exists.
 */
export function relaxThresholds(expr: string): string {
  return expr.replace(/\s(>=|<=|==|!=|>|<)\s*-?\d+(\.\d+)?(e-?\d+)?(?=\s|\)|$)/g, ' != NaN');
}

/** The rule file with every `for:` rewritten to `forValue` (test timing only; the shipped file is unchanged). */
export function rulesWithFor(forValue: string, file = RULES_FILE): string {
  return readFileSync(file, 'utf8').replace(/^(\s*)for:\s*\S+\s*$/gm, `$1for: ${forValue}`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface PromQueryResult {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/** A real Prometheus (Debian's /usr/bin/prometheus) on a free loopback port with its own data dir. */
export class PrometheusServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  readonly dir = mkdtempSync(join(tmpdir(), 'finops-prom-'));
  port = 0;
  private output = '';

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(opts: { target: string; rules: string; binary?: string; job?: string }): Promise<void> {
    this.port = await freePort();
    writeFileSync(join(this.dir, 'finops.rules.yml'), opts.rules);
    writeFileSync(
      join(this.dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        '  evaluation_interval: 1s',
        'rule_files:',
        `  - ${join(this.dir, 'finops.rules.yml')}`,
        'scrape_configs:',
        `  - job_name: ${opts.job ?? 'finops-pipeline'}`,
        '    static_configs:',
        `      - targets: ['${opts.target}']`,
        '',
      ].join('\n'),
    );
    const child = spawn(
      opts.binary ?? '/usr/bin/prometheus',
      [
        `--config.file=${join(this.dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(this.dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${this.port}`,
        '--storage.tsdb.retention.time=1h',
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.child = child;
    child.stdout!.on('data', (b: Buffer) => (this.output = (this.output + b.toString()).slice(-4000)));
    child.stderr!.on('data', (b: Buffer) => (this.output = (this.output + b.toString()).slice(-4000)));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${this.output}`);
        return (await fetch(`${this.url}/-/ready`)).ok;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'prometheus ready' },
    );
  }

  async query(expr: string): Promise<PromQueryResult> {
    const res = await fetch(`${this.url}/api/v1/query?query=${encodeURIComponent(expr)}`);
    return (await res.json()) as PromQueryResult;
  }

  async alerts(): Promise<{ labels: Record<string, string>; state: string; value: string; activeAt: string }[]> {
    const res = await fetch(`${this.url}/api/v1/alerts`);
    return ((await res.json()) as { data: { alerts: { labels: Record<string, string>; state: string; value: string; activeAt: string }[] } }).data.alerts;
  }

  async stop(): Promise<void> {
    if (this.child && this.child.exitCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child?.kill('SIGKILL'), 10_000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
