#!/usr/bin/env node
import { intSetting } from './config';
import { createKafka } from './kafka/client';
import { runMigrations, setupTopics } from './setup';
import { logger } from './logging';
import { OpsServer } from './http/ops-server';
import { Role, roleFactories, roleNames } from './roles';
import { FinOpsError } from './errors';
import { LagCollector } from './metrics/lag-collector';

const log = logger('cli');

const USAGE = `usage: finops <command>
  run [role ...]     run roles (default: $ROLES, or all: ${roleNames().join(', ')})
  migrate            apply pending SQL migrations
  topics             create the pipeline's topics and register its schemas
  setup              migrate + topics
`;

async function runRoles(requested: string[]): Promise<void> {
  const names = requested.length ? requested : (process.env.ROLES ?? roleNames().join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = names.filter((n) => !roleFactories[n]);
  if (unknown.length) throw new FinOpsError(`unknown role(s) ${unknown.join(', ')}; choose from ${roleNames().join(', ')}`);

  await runMigrations();
  await setupTopics();
  const ops = new OpsServer();
  const roles: Role[] = [];
  for (const name of names) roles.push(await (await roleFactories[name]())({ overrides: {}, ops }));
  const port = await ops.start(intSetting('METRICS_PORT', {}, { max: 65535 }));
  for (const role of roles) await role.start();
  const lag = LagCollector.fromSettings(createKafka({}, 'lag'), names);
  await lag.start().catch((err) => log.warn({ err }, 'consumer lag collector failed to start; lag metrics missing'));
  log.info({ roles: names, metricsPort: port }, 'running');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing the batch in hand');
    ops.markShuttingDown();
    await lag.stop().catch(() => undefined);
    for (const role of [...roles].reverse()) {
      await role.stop().catch((err) => log.error({ err, role: role.name }, 'role failed to stop cleanly'));
    }
    await ops.stop();
    process.exit(process.exitCode ?? 0); // non-zero when a consumer stopped for good (src/kafka/consumer-supervisor.ts)
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  switch (command) {
    case 'run':
      return runRoles(args);
    case 'migrate':
      return void (await runMigrations());
    case 'topics':
      return setupTopics();
    case 'setup':
      await runMigrations();
      return setupTopics();
    default:
      process.stdout.write(USAGE);
      process.exitCode = command ? 2 : 0;
  }
}

main(process.argv.slice(2)).catch((err) => {
  log.fatal({ err }, err instanceof FinOpsError ? err.message : 'failed');
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
});
