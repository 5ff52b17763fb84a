import Redis from 'ioredis';
import { FAST_ANOMALY_SETTINGS } from '../../testkit/pipeline-settings';
import { CostGuard, CostTracker, PausedError } from '../../producers';
import { PERSONA_TEAM_KEY_PREFIX } from '../../src/contracts/controls';
import { setting } from '../../src/config';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { guardFor, startRoles, trackerFor } from '../../testkit/in-process';
import { waitFor } from '../../testkit/wait-for';
import { AnomalyCollector } from './anomaly-support';

/**
 * Scoped budgets on the real stack: the SDK CostTracker → the real anomaly consumer (scoped
 * budgets read from Postgres) → finops.cost-anomalies.v1 → the real circuit breaker → Redis → the
 * SDK CostGuard. Two personas of one team each stay under their own budget ($0.015 a day) while
 * together they cross the team's ($0.02 a day, thresholds 50/80/90/100 %, throttle at 90 % and
 * pause at 100 %). One infrastructure unit (a 60 s pod at 2 cores / 4 GB) costs ≈ $0.001336.
 */
describe('real pipeline: a team budget crossed by two personas together', () => {
  let env: TestEnv;
  let tracker: CostTracker;
  let guard: CostGuard;
  let collector: AnomalyCollector;
  let redis: Redis;

  beforeAll(async () => {
    env = await createTestEnv('scoped');
    Object.assign(env.overrides, {
      ...FAST_ANOMALY_SETTINGS,
      ANOMALY_TICK_MS: '100',
      ANOMALY_REFERENCE_REFRESH_MS: '500',
      BREAKER_TICK_MS: '100',
    });
    const team = `${env.id}-growth`;
    await env.pool.query(
      `INSERT INTO scoped_budgets (scope_kind, scope_value, period, limit_usd, thresholds) VALUES
         ('team', $1, 'daily', 0.02, '[{"percent":"50","severity":"low"},{"percent":"80","severity":"medium"},{"percent":"90","severity":"high","control":"throttle"},{"percent":"100","severity":"critical","control":"pause"}]'),
         ('persona', $2, 'daily', 0.015, '[{"percent":"90","severity":"high","control":"throttle"}]'),
         ('persona', $3, 'daily', 0.015, '[{"percent":"90","severity":"high","control":"throttle"}]')`,
      [team, `${env.id}-ann`, `${env.id}-bob`],
    );
    await env.pool.query('INSERT INTO persona_teams (persona_id, team) VALUES ($1, $3), ($2, $3)', [`${env.id}-ann`, `${env.id}-bob`, team]);
    env.cleanup(async () => {
      await env.pool.query("DELETE FROM scoped_budgets WHERE scope_value IN ($1, $2, $3)", [team, `${env.id}-ann`, `${env.id}-bob`]);
      await env.pool.query('DELETE FROM persona_teams WHERE team = $1', [team]);
    });
    // The API mirrors the mapping into Redis for the guard (PUT /teams/:persona_id); here it is written directly.
    redis = new Redis(setting('REDIS_URL', env.overrides));
    env.cleanup(() => redis.quit().then(() => undefined));
    await redis.set(PERSONA_TEAM_KEY_PREFIX + `${env.id}-ann`, team);
    await redis.set(PERSONA_TEAM_KEY_PREFIX + `${env.id}-bob`, team);
    env.cleanup(() => redis.del(PERSONA_TEAM_KEY_PREFIX + `${env.id}-ann`, PERSONA_TEAM_KEY_PREFIX + `${env.id}-bob`).then(() => undefined));

    await startRoles(env, ['anomaly', 'breaker']);
    collector = await new AnomalyCollector(env).start();
    tracker = trackerFor(env);
    guard = await guardFor(env);
  });
  afterAll(() => env?.close());

  it('team anomalies at 50/80/90/100 % once each, none for either persona, and the team-wide pause enforced by the guard for both personas', async () => {
    const ann = `${env.id}-ann`;
    const bob = `${env.id}-bob`;
    const subject = `scope:team:${env.id}-growth`;
    const unit = (persona: string) => tracker.trackInfrastructureCost({ cpuCores: '2', memoryGb: '4', durationMs: 60_000, operation: 'render', personaId: persona, service: 'render' });
    expect((await guard.acquire(ann, 'gpt-4o', { maxWaitMs: 0 })).level).toBe('normal');
    // 9 units each: $0.012 per persona (80 % of its own budget, under its 90 % threshold), $0.024 together.
    for (let i = 0; i < 9; i++) {
      await unit(ann);
      await unit(bob);
    }
    await tracker.flush();
    const opened = await waitFor(() => {
      const team = collector.forPersona(subject).filter((a) => a.status === 'open');
      return team.length >= 4 ? team : undefined;
    }, { what: 'four team budget notices', timeoutMs: 30_000 });
    // More spend past 100 % adds no notice: each threshold once per period (10 units each stays under 90 % of $0.015).
    await unit(ann);
    await unit(bob);
    await tracker.flush();
    const paused = await waitFor(async () => {
      try {
        await guard.acquire(bob, 'gpt-4o', { maxWaitMs: 0 });
        return undefined;
      } catch (err) {
        return err instanceof PausedError ? err : undefined;
      }
    }, { what: "the team's pause enforced for bob", timeoutMs: 15_000, intervalMs: 50 });
    await expect(guard.acquire(ann, 'gpt-4o', { maxWaitMs: 0 })).rejects.toBeInstanceOf(PausedError);
    await new Promise((r) => setTimeout(r, 1500));
    const team = collector.forPersona(subject);
    const summary = team.map((a) => `${a.status}:${a.details.threshold_percent}:${a.severity}`);
    process.stderr.write(`scoped-budgets-e2e: team states ${JSON.stringify(summary)}; persona states ann=${collector.forPersona(ann).length} bob=${collector.forPersona(bob).length}; guard: ${paused.message}\n`);
    expect(opened.map((a) => a.details.threshold_percent)).toEqual(['50', '80', '90', '100']);
    expect(team.filter((a) => a.status === 'open')).toHaveLength(4);
    expect(team.every((a) => a.scope_kind === 'team' && a.anomaly_type === 'budget_threshold')).toBe(true);
    expect(collector.forPersona(ann).filter((a) => a.anomaly_type === 'budget_threshold')).toHaveLength(0);
    expect(collector.forPersona(bob).filter((a) => a.anomaly_type === 'budget_threshold')).toHaveLength(0);
    const audit = (await env.pool.query('SELECT to_level, cause FROM control_transitions WHERE persona_id = $1 ORDER BY at, recorded_at', [subject])).rows;
    expect(audit.map((r) => `${r.to_level}:${r.cause}`)).toEqual(['throttle:trigger', 'pause:escalate']);
    // GET /budgets reads the status the consumer writes: spend of the team, with a forecast row.
    const status = await waitFor(async () => (await env.pool.query("SELECT spent_usd::text AS spent FROM scoped_budget_status WHERE scope_kind = 'team' AND scope_value = $1", [`${env.id}-growth`])).rows[0], { what: 'status row', timeoutMs: 10_000 });
    expect(Number(status.spent)).toBeGreaterThanOrEqual(0.02);
  });
});
