import { OpsServer } from '../../src/http/ops-server';
import { Role } from '../../src/roles';
import { storageRole } from '../../consumers/storage';
import { TestEnv } from '../../testkit/fixtures';

/** Runs the storage role in-process against the test env's topics; stopped on clean-up. */
export async function startStorage(env: TestEnv, extra: Record<string, string> = {}): Promise<Role> {
  const role = storageRole({ overrides: { ...env.overrides, ...extra }, ops: new OpsServer() });
  await role.start();
  env.cleanup(() => role.stop());
  return role;
}
