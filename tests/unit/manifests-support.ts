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
  ROLES: 'src/cli.ts: roles to run when `run` has no arguments',
  NODE_ENV: 'Node.js convention; the image sets production',
  NODE_OPTIONS: 'Node.js runtime flags (heap size per role)',
};

export function knownEnv(): Set<string> {
  return new Set([...Object.keys(defaults), ...Object.keys(EXTRA_ENV)]);
}

/** Names that are not settings the code reads (a misspelt variable is silently ignored at run time). */
export function unknownEnv(names: Iterable<string>): string[] {
  const known = knownEnv();
  return [...new Set(names)].filter((n) => !known.has(n)).sort();
}

/** CLI commands of src/cli.ts other than `run`. */
export const CLI_COMMANDS = ['migrate', 'topics', 'setup'];

/** Problems with a command line given to the image (ENTRYPOINT node dist/src/cli.js). */
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
