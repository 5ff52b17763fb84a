import { CostTracker } from '../../producers';
import { createPool, Pool } from '../../src/db/pool';
import { migrate } from '../../src/db/migrate';
import { PrivatePostgres } from '../../testkit/private-postgres';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { RoleProcess, spawnRoles } from '../../testkit/role-process';
import { waitFor } from '../../testkit/wait-for';

/**
 * The storage role against a Postgres cluster of its own, restarted with `pg_ctl restart -m fast`
 * (every session terminated) while it stores: the process must neither crash nor lose or double a row.
 */
describe('storage role across a Postgres fast restart', () => {
  let env: TestEnv;
  let pg: PrivatePostgres;
  let db: Pool;
  let tracker: CostTracker;
  let proc: RoleProcess | undefined;

  beforeAll(async () => {
    pg = new PrivatePostgres();
    await pg.start();
    env = await createTestEnv('pgrestart', { DATABASE_URL: pg.url });
    db = createPool({ DATABASE_URL: pg.url });
    await migrate(db);
    tracker = new CostTracker({ overrides: env.overrides });
    await tracker.start();
  });
  afterAll(async () => {
    await proc?.kill('SIGKILL');
    await tracker?.close();
    await db?.end();
    await env?.close();
    pg?.destroy();
  });

  it('keeps running, reconnects and stores every event exactly once', async () => {
    proc = spawnRoles(['storage'], { ...env.overrides, STORAGE_BATCH_MAX_EVENTS: '200', STORAGE_BATCH_MAX_WAIT_MS: '20' }, { logFile: `${pg.dir}/storage.log` });
    await proc.running;
    let exit: { code: number | null } | undefined;
    void proc.exited.then((code) => (exit = { code }));
    const total = 12_000;
    const ids: string[] = [];
    const pending: Promise<unknown>[] = [];
    const started = Date.now();
    let restarted = false;
    for (let i = 0; i < total; i++) {
      const due = started + i / 2; // 2,000 events/s
      if (due - Date.now() > 2) await new Promise((r) => setTimeout(r, due - Date.now()));
      pending.push(
        tracker.trackVectorDbCost({ vectorOperation: 'query', units: 1 + (i % 5), personaId: `${env.id}-p${i % 31}`, postId: `${env.id}-post-${i % 400}` }).then((t) => ids.push(t.eventId)),
      );
      if (!restarted && i === total / 3) {
        restarted = true;
        // Rows are being written now; the restart lands mid-stream.
        pg.restart('fast');
      }
    }
    await Promise.all(pending);
    const count = async () => Number((await db.query('SELECT count(*) FROM cost_events WHERE persona_id LIKE $1', [`${env.id}-p%`])).rows[0].count);
    const outcome = await waitFor(async () => exit ?? ((await count()) >= total && 'stored'), { timeoutMs: 90_000, intervalMs: 250, what: `${total} rows` });
    expect(outcome).toBe('stored'); // not { code: 1 }: the process did not exit
    await new Promise((r) => setTimeout(r, 1000));
    const { rows } = await db.query(
      `SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS ids, count(*) FILTER (WHERE event_id = ANY($2))::int AS published, sum(amount_usd)::text AS total
       FROM cost_events WHERE persona_id LIKE $1`,
      [`${env.id}-p%`, ids],
    );
    expect(rows[0]).toMatchObject({ rows: total, ids: total, published: total });
    const rollup = await db.query('SELECT sum(event_count)::int AS events, sum(total_usd)::text AS total FROM post_costs WHERE post_id LIKE $1', [`${env.id}-post-%`]);
    expect(rollup.rows[0]).toEqual({ events: total, total: rows[0].total });
    expect(exit).toBeUndefined(); // still the same process, still running
  });
});
