import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Overrides } from '../src/config';

const ROOT = path.resolve(__dirname, '..');
/** USER_HZ of /proc/<pid>/stat: 100 on every Linux that Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface RoleProcess {
  child: ChildProcess;
  pid: number;
  /** Resolves with the metrics port once the process serves /health and /ready (its roles may still wait for dependencies). */
  listening: Promise<number>;
  /** Resolves with the metrics port once the process logged that it is running. */
  running: Promise<number>;
  /** Lines the process has written to stdout so far. */
  output(): string[];
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resident set size now, in MiB (from /proc). */
  rssMb(): number;
  /** CPU time (user + system, every thread) the process has used so far, in seconds (from /proc). */
  cpuSeconds(): number;
}

/**
 * Runs `finops run <roles>` as a separate Node process (one process, no wrapper, so its pid and
 * RSS are the consumer's own), with the given settings in its environment.
 */
export interface SpawnOptions {
  logFile?: string;
  heapMb?: number;
  /** Runtime variables as the role's Deployment sets them (k8s/resources.ts runtimeEnv): NODE_OPTIONS, MALLOC_ARENA_MAX. heapMb, if given, is added to its NODE_OPTIONS. */
  env?: Record<string, string>;
  nodeArgs?: string[];
  /** Run dist/app/cli.js, as the image does (see compileForRoleProcesses), not the sources under tsx. */
  compiled?: boolean;
}

/**
 * Compiles the sources as the image does (`tsc -p tsconfig.build.json` into dist/), for role
 * processes a benchmark measures: under tsx a process also carries tsx's loader thread and compiles
 * in memory, which adds tens of MB of RSS and seconds of CPU that a deployment never has.
 */
export function compileForRoleProcesses(): void {
  execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { cwd: ROOT, stdio: 'inherit' });
}

export function spawnRoles(roles: string[], overrides: Overrides, opts: SpawnOptions = {}): RoleProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, METRICS_PORT: '0', LOG_LEVEL: process.env.ROLE_LOG_LEVEL ?? 'info' };
  // As in the Kubernetes manifests: a V8 heap cap sized to the pod, so the collector keeps RSS near it.
  Object.assign(env, opts.env);
  if (opts.heapMb) env.NODE_OPTIONS = `${env.NODE_OPTIONS ?? ''} --max-old-space-size=${opts.heapMb}`.trim();
  delete env.JEST_WORKER_ID;
  delete env.NODE_ENV;
  for (const [k, v] of Object.entries(overrides)) env[k] = String(v);
  const entry = opts.compiled ? [path.join(ROOT, 'dist/app/cli.js')] : ['--import', 'tsx', path.join(ROOT, 'app/cli.ts')];
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), ...entry, 'run', ...roles], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = opts.logFile ? fs.createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const lines: string[] = [];
  let onListening: (port: number) => void = () => undefined;
  let onRunning: (port: number) => void = () => undefined;
  const listening = new Promise<number>((resolve, reject) => {
    onListening = resolve;
    void exited.then((code) => reject(new Error(`roles ${roles.join(',')} exited with ${code} before serving /ready`)));
  });
  const running = new Promise<number>((resolve, reject) => {
    onRunning = resolve;
    void exited.then((code) => reject(new Error(`roles ${roles.join(',')} exited with ${code} before running`)));
  });
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    log?.write(chunk);
    buffered += chunk.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (lines.length < 5000) lines.push(line);
      if (line.includes('"msg":"ops server listening"')) onListening(JSON.parse(line).metricsPort);
      if (line.includes('"msg":"running"')) onRunning(JSON.parse(line).metricsPort);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => log?.write(chunk));
  listening.catch(() => undefined);
  running.catch(() => undefined);
  return {
    child,
    pid: child.pid!,
    listening,
    running,
    output: () => lines,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    rssMb() {
      try {
        const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
        return kb / 1024;
      } catch {
        return 0;
      }
    },
    cpuSeconds() {
      try {
        const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
      } catch {
        return 0;
      }
    },
  };
}
