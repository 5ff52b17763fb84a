import { freePort } from '../../testkit/pipeline-settings';
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { waitFor } from '../../testkit/wait-for';

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

/** Metric names an expression uses (series selectors of the pipeline's, prom-client's and Prometheus's own metrics). */
export function metricNames(expr: string): string[] {
  const names = expr.match(/\b(finops_[a-z0-9_]+|openai_api_[a-z0-9_]+|kubernetes_resource_[a-z0-9_]+|vector_db_[a-z0-9_]+|process_[a-z0-9_]+|nodejs_[a-z0-9_]+|up)\b(?!\s*\()/g) ?? [];
  return [...new Set(names)];
}

/** Which role exports a metric (by name prefix); undefined = every process (storage included). */
export function ownerRole(metric: string): string | undefined {
  if (metric.startsWith('finops_anomal')) return 'anomaly';
  if (metric.startsWith('finops_breaker_')) return 'breaker';
  if (metric.startsWith('finops_alert_')) return 'alerts';
  if (metric.startsWith('finops_api_')) return 'api';
  if (metric.startsWith('finops_ingest_')) return 'ingest';
  return undefined;
}

/** Every metric name registered in the code: quoted first arguments of counter(), gauge(), histogram(). */
export function metricsDefinedInCode(): Set<string> {
  const out = new Set<string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name.endsWith('.ts')) for (const m of readFileSync(p, 'utf8').matchAll(/\b(?:counter|gauge|histogram)\(\s*'([a-zA-Z_:][a-zA-Z0-9_:]*)'/g)) out.add(m[1]);
    }
  };
  for (const dir of ['src', 'consumers', 'api', 'ingest', 'producers']) walk(join(ROOT, dir));
  return out;
}

/** A metric an expression names is defined in the code (histogram series suffixes allowed), or is a default/Prometheus one. */
export function undefinedMetrics(exprs: string[], defined = metricsDefinedInCode()): string[] {
  const bad = new Set<string>();
  for (const e of exprs) {
    for (const m of metricNames(e)) {
      if (m === 'up' || m.startsWith('process_') || m.startsWith('nodejs_')) continue;
      const base = m.replace(/_(bucket|sum|count)$/, '');
      if (!defined.has(m) && !defined.has(base)) bad.add(m);
    }
  }
  return [...bad].sort();
}
