import { RunningApi } from '../../api';
import { breakerControlAdmin } from '../../app/roles';
import type { BreakerAdmin } from '../../consumers/breaker/control-admin';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { call, get, OPERATOR_TOKEN, startTestApi } from './api-support';

describe('controls through the API, backed by the real circuit-breaker ControlAdmin', () => {
  let env: TestEnv;
  let api: RunningApi;

  beforeAll(async () => {
    env = await createTestEnv('apicontrols');
    api = await startTestApi(env, {}, { controls: breakerControlAdmin }); // as app/roles.ts wires the api role
  });
  afterAll(() => env.close());

  it('lists a paused persona and lets an operator resume it', async () => {
    expect(api.ctx.controls).not.toBeNull();
    const persona = `${env.id}-persona`;
    await (api.ctx.controls as BreakerAdmin).override(persona, 'pause', 'test', 'paused by the test');

    const listed = await get(api, '/controls');
    expect(listed.status).toBe(200);
    const mine = listed.body.controls.find((c: { persona_id: string }) => c.persona_id === persona);
    expect(mine).toMatchObject({ persona_id: persona, level: 'pause', manual: true });

    const resumed = await call(api, 'POST', `/controls/${persona}/resume`, { token: OPERATOR_TOKEN, body: { reason: 'false alarm' } });
    expect(resumed.status).toBe(200);
    expect(resumed.body.control).toMatchObject({ persona_id: persona, level: 'normal', manual: true, reason: expect.stringContaining('false alarm') });
    const after = await get(api, '/controls');
    expect(after.body.controls.map((c: { persona_id: string }) => c.persona_id)).not.toContain(persona);
  });

  it('rejects a resume body with unknown fields', async () => {
    const r = await call(api, 'POST', `/controls/${env.id}-x/resume`, { token: OPERATOR_TOKEN, body: { reason: 'x', level: 'normal' } });
    expect(r).toMatchObject({ status: 400, body: { error: 'unknown_field' } });
  });
});
