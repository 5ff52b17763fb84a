import { OpsServer } from '../../src/http/ops-server';
import { waitForDependencies } from '../../src/http/dependency-gate';
import { logger } from '../../src/logging';

describe('start-up dependency gate', () => {
  it('waits with backoff, logging each retry with what is missing, until every dependency answers', async () => {
    let registryCalls = 0;
    const checks = new Map([
      ['postgres', async () => undefined],
      ['schema-registry', async () => {
        if (++registryCalls < 4) throw new Error('registry unreachable');
      }],
    ]);
    const log = logger('test');
    const warned: unknown[] = [];
    const spy = jest.spyOn(log, 'warn').mockImplementation(((obj: unknown) => void warned.push(obj)) as never);
    await waitForDependencies(checks, log, { STARTUP_RETRY_INITIAL_MS: '1', STARTUP_RETRY_MAX_MS: '4' });
    spy.mockRestore();
    expect(registryCalls).toBe(4);
    expect(warned).toHaveLength(3);
    expect(warned[0]).toMatchObject({ missing: { 'schema-registry': 'registry unreachable' }, attempt: 1 });
    // Capped at STARTUP_RETRY_MAX_MS plus its 20 % jitter, rounded to whole milliseconds.
    expect((warned[2] as { retryInMs: number }).retryInMs).toBeLessThanOrEqual(Math.round(4 * 1.2));
  });

  it('/ready stays 503 naming the start-up state and each failing dependency; /health stays live', async () => {
    const ops = new OpsServer();
    ops.addDependency('postgres', async () => {
      throw new Error('connect ECONNREFUSED');
    });
    ops.setStartup('waiting for postgres');
    const port = await ops.start(0, '127.0.0.1');
    try {
      const ready = await fetch(`http://127.0.0.1:${port}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: 'not ready', checks: { postgres: 'connect ECONNREFUSED', startup: 'waiting for postgres' } });
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
      expect([...ops.dependencies.keys()]).toEqual(['postgres']);
    } finally {
      await ops.stop();
    }
  });
});
