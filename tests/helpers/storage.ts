import { OpsServer } from '../../src/http/ops-server';
import { Role } from '../../src/roles';
import { roleFactories } from '../../app/roles';
import { TestEnv } from '../../testkit/fixtures';

/** Runs the storage role in-process, wired as the composition root wires it (with the API cache invalidator), against the test env's topics; stopped on clean-up. */
export async function startStorage(env: TestEnv, extra: Record<string, string> = {}): Promise<Role> {
  const role = await (await roleFactories.storage())({ overrides: { ...env.overrides, ...extra }, ops: new OpsServer() });
  await role.start();
  env.cleanup(() => role.stop());
  return role;
}
