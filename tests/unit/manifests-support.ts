import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { defaults } from '../../src/config/defaults';

export const ROOT = join(__dirname, '..', '..');

/**
 * Environment variables a manifest may set: every setting the code reads (src/config/defaults.ts)
 * plus these documented extras, read outside the settings table.
 */
export const EXTRA_ENV: Record<string, string> = {
  ROLES: 'app/cli.ts: roles to run when `run` has no arguments',
  NODE_ENV: 'Node.js convention; the image sets production',
  NODE_OPTIONS: 'Node.js runtime flags (heap size per role)',
  MALLOC_ARENA_MAX: 'glibc: malloc arenas of the storage role (k8s/resources.ts)',
  // Until the API's separate metrics port setting is in src/config/defaults.ts (then this line goes).
};

export function knownEnv(): Set<string> {
  return new Set([...Object.keys(defaults), ...Object.keys(EXTRA_ENV)]);
}

/** Names that are not settings the code reads (a misspelt variable is silently ignored at run time). */
export function unknownEnv(names: Iterable<string>): string[] {
  const known = knownEnv();
  return [...new Set(names)].filter((n) => !known.has(n)).sort();
}

/** CLI commands of app/cli.ts other than `run`. */
export const CLI_COMMANDS = ['migrate', 'topics', 'setup'];

/** Problems with a command line given to the image (ENTRYPOINT node dist/app/cli.js). */
export function badCommand(args: string[], roles: string[]): string | undefined {
  const [command, ...rest] = args;
  if (command === 'run') {
    if (rest.length === 0) return 'run without a role (a pod should run one role)';
    const unknown = rest.filter((r) => !roles.includes(r));
    return unknown.length ? `unknown role(s) ${unknown.join(', ')}` : undefined;
  }
  return CLI_COMMANDS.includes(command) ? undefined : `unknown command ${command}`;
}

/** Validates objects against the Kubernetes / KEDA / Prometheus Operator schemas (child process; see manifests-validate.mjs). */
export function validateK8s(docs: object[]): { id: string; error: string | null }[] {
  const out = execFileSync(process.execPath, [join(__dirname, 'manifests-validate.mjs')], { input: JSON.stringify(docs), cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(out);
}

export function yamlFilesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...yamlFilesUnder(p));
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out.sort();
}

export function kubectlAvailable(): boolean {
  return existsSync('/usr/bin/kubectl') || existsSync('/usr/local/bin/kubectl');
}

type Obj = { kind: string; metadata: { name: string }; spec?: any; data?: Record<string, string>; stringData?: Record<string, string> } & Record<string, any>;

/** Settings that are secrets: they may reach a pod only through a secretKeyRef. */
export function isSecretSetting(name: string): boolean {
  return !name.endsWith('_FILE') && /(PASSWORD|TOKENS?|ROUTING_KEY|WEBHOOK_URL|SMTP_URL)$|^(DATABASE_URL|REDIS_URL)$/.test(name);
}

const CREDENTIALS_IN_URL = /[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:[^/@\s]+@/i;

/** Ways a secret could sit in manifests: literal values, ConfigMap keys, whole-Secret imports, Secret objects with data. */
export function secretLeaks(objects: Obj[]): string[] {
  const problems: string[] = [];
  for (const o of objects) {
    if (o.kind === 'Secret' && (Object.keys(o.data ?? {}).length || Object.keys(o.stringData ?? {}).length)) problems.push(`Secret ${o.metadata.name} carries literal data`);
    if (o.kind === 'ConfigMap') {
      for (const [k, v] of Object.entries(o.data ?? {})) {
        if (isSecretSetting(k)) problems.push(`ConfigMap ${o.metadata.name} holds the secret ${k}`);
        if (CREDENTIALS_IN_URL.test(String(v))) problems.push(`ConfigMap ${o.metadata.name} ${k} has credentials in a URL`);
      }
    }
    const pod = o.kind === 'Deployment' || o.kind === 'Job' ? o.spec.template.spec : undefined;
    for (const c of pod ? [...(pod.containers ?? []), ...(pod.initContainers ?? [])] : []) {
      for (const e of c.env ?? []) {
        if (isSecretSetting(e.name) && !e.valueFrom?.secretKeyRef) problems.push(`${o.kind} ${o.metadata.name} sets ${e.name} without a secretKeyRef`);
        if (e.value !== undefined && CREDENTIALS_IN_URL.test(String(e.value))) problems.push(`${o.kind} ${o.metadata.name} ${e.name} has credentials in a URL`);
      }
      for (const from of c.envFrom ?? []) if (from.secretRef) problems.push(`${o.kind} ${o.metadata.name} imports the whole Secret ${from.secretRef.name}`);
    }
  }
  return problems;
}

/** NetworkPolicy rules that open a metrics port beyond the monitoring namespace, or the API port on non-API pods. */
export function policyProblems(objects: Obj[], metricsPorts: number[], apiPort: number): string[] {
  const problems: string[] = [];
  for (const p of objects.filter((o) => o.kind === 'NetworkPolicy')) {
    for (const rule of p.spec.ingress ?? []) {
      const ports: unknown[] = (rule.ports ?? []).map((x: { port: unknown }) => x.port);
      const from = rule.from ?? [];
      const monitoringOnly = from.length > 0 && from.every((f: any) => !f.ipBlock && !f.podSelector && f.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'monitoring');
      if ((ports.length === 0 || ports.some((x) => metricsPorts.includes(Number(x)) || x === 'metrics')) && !monitoringOnly) {
        problems.push(`${p.metadata.name} opens ${ports.length ? 'the metrics port' : 'every port'} to ${JSON.stringify(from.length ? from : 'everyone')}`);
      }
      if (ports.some((x) => Number(x) === apiPort || x === 'http') && p.spec.podSelector?.matchLabels?.['app.kubernetes.io/name'] !== 'finops-api') {
        problems.push(`${p.metadata.name} opens the API port on pods other than the API's`);
      }
    }
  }
  return problems;
}
