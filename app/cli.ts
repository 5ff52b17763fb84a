#!/usr/bin/env node
import '../src/kafka/linear-grouping';
import { boolSetting, intSetting } from '../src/config';
import { createKafka } from '../src/kafka/client';
import { runSetup } from '../src/setup';
import { logger } from '../src/logging';
import { OpsServer } from '../src/http/ops-server';
import { waitForDependencies } from '../src/http/dependency-gate';
import type { Role } from '../src/roles';
import { roleFactories, roleNames } from './roles';
import { FinOpsError } from '../src/errors';
import { LagCollector } from '../src/metrics/lag-collector';
import { LEDGER_USAGE, ledgerCommands } from '../src/ledger/cli';

const log = logger('cli');

const USAGE = `usage: finops <command>
  run [--setup] [role ...]  run roles (default: $ROLES, or all: ${roleNames().join(', ')});
                            --setup (or FINOPS_SETUP_ON_RUN=true) runs \`setup\` first, for a local all-in-one run
  migrate                   apply pending SQL migrations
  topics                    create the pipeline's topics and register its schemas
  setup                     migrate + topics (the Kubernetes setup Job, Compose's setup service)
${LEDGER_USAGE}`;

/**
 * Runs roles. Their metrics, /health and /ready are served at once; the roles start only when
 * every dependency they declared answers (until then /ready is 503 and names what is missing).
 * `run` changes nothing in the database or the broker unless --setup asks for it.
 */
async function runRoles(args: string[]): Promise<void> {
  const setupFirst = args.includes('--setup') || boolSetting('FINOPS_SETUP_ON_RUN');
  const requested = args.filter((a) => a !== '--setup');
  const unknownFlags = requested.filter((a) => a.startsWith('-'));
  if (unknownFlags.length) throw new FinOpsError(`unknown option(s) ${unknownFlags.join(', ')}; \`run\` takes --setup and role names`);
  const names = requested.length ? requested : (process.env.ROLES ?? roleNames().join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !roleFactories[n]);
  if (unknown.length) throw new FinOpsError(`unknown role(s) ${unknown.join(', ')}; choose from ${roleNames().join(', ')}`);

  const ops = new OpsServer();
  const roles: Role[] = [];
  for (const name of names) roles.push(await (await roleFactories[name]())({ overrides: {}, ops }));
  const started: Role[] = [];
  let lag: LagCollector | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing the batch in hand');
    ops.markShuttingDown();
    await lag?.stop().catch(() => undefined);
    for (const role of [...started].reverse()) {
      await role.stop().catch((err) => log.error({ err, role: role.name }, 'role failed to stop cleanly'));
    }
    await ops.stop();
    process.exit(process.exitCode ?? 0); // non-zero when a consumer stopped for good (src/kafka/consumer-supervisor.ts)
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  ops.setStartup('waiting for dependencies');
  const port = await ops.start(intSetting('METRICS_PORT', {}, { max: 65535 }));
  log.info({ roles: names, metricsPort: port }, 'ops server listening');
  if (setupFirst) {
    ops.setStartup('running setup');
    await runSetup({}, ['migrate', 'topics'], { isStopping: () => stopping });
  }
  ops.setStartup(`waiting for ${[...ops.dependencies.keys()].join(', ')}`);
  await waitForDependencies(ops.dependencies, log, {}, { isStopping: () => stopping });
  ops.setStartup('starting roles');
  for (const role of roles) {
    if (stopping) return;
    await role.start();
    started.push(role);
  }
  ops.setStartup(undefined);
  lag = LagCollector.fromSettings(createKafka({}, 'lag'), names);
  await lag.start().catch((err) => log.warn({ err }, 'consumer lag collector failed to start; lag metrics missing'));
  log.info({ roles: names, metricsPort: port }, 'running');
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  switch (command) {
    case 'run':
      return runRoles(args);
    case 'migrate':
      return runSetup({}, ['migrate']);
    case 'topics':
      return runSetup({}, ['topics']);
    case 'setup':
      return runSetup();
    default:
      if (command && ledgerCommands[command]) return ledgerCommands[command](args);
      process.stdout.write(USAGE);
      process.exitCode = command ? 2 : 0;
  }
}

main(process.argv.slice(2)).catch((err) => {
  log.fatal({ err }, err instanceof FinOpsError ? err.message : 'failed');
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
