import { CostTracker } from '../../producers';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { RoleProcess, spawnRoles } from '../../testkit/role-process';
import { waitFor } from '../../testkit/wait-for';

/**
 * Storage consumers run as real processes here, killed with SIGKILL (no chance to flush or
 * commit), so these tests see exactly what a crashed pod leaves behind.
 */
const PROCESS_SETTINGS = { KAFKA_SESSION_TIMEOUT_MS: '6000', STORAGE_BATCH_MAX_EVENTS: '500', STORAGE_BATCH_MAX_WAIT_MS: '20' };

async function publishSteadily(tracker: CostTracker, env: TestEnv, total: number, perSecond: number, tag: string): Promise<string[]> {
  const ids: string[] = [];
  const started = Date.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / perSecond;
    if (due - Date.now() > 2) await new Promise((r) => setTimeout(r, due - Date.now()));
    pending.push(
      tracker
        .trackVectorDbCost({ vectorOperation: 'query', units: 1 + (i % 7), personaId: `${env.id}-persona-${i % 97}`, postId: `${tag}-post-${i % 1500}`, operation: tag })
        .then((t) => ids.push(t.eventId)),
    );
  }
  await Promise.all(pending);
  return ids;
}

async function storedCount(env: TestEnv, tag: string): Promise<number> {
  return Number((await env.pool.query('SELECT count(*) FROM cost_events WHERE operation = $1', [tag])).rows[0].count);
}

async function assertExactlyOnce(env: TestEnv, tag: string, ids: string[]): Promise<void> {
  await waitFor(async () => (await storedCount(env, tag)) >= ids.length, { timeoutMs: 120_000, intervalMs: 250, what: `${ids.length} stored rows` });
  const { rows } = await env.pool.query(
    `SELECT count(*)::int AS rows, count(DISTINCT event_id)::int AS distinct_ids,
            count(*) FILTER (WHERE event_id = ANY($2))::int AS published_ids,
            sum(amount_usd)::text AS total
     FROM cost_events WHERE operation = $1`,
    [tag, ids],
  );
  expect(rows[0]).toMatchObject({ rows: ids.length, distinct_ids: ids.length, published_ids: ids.length });
  // The rollups were fed only by rows actually inserted: equal to the events, never more.
  const rollup = await env.pool.query(
    `SELECT sum(event_count)::int AS events, sum(total_usd)::text AS total FROM post_costs WHERE post_id LIKE $1`,
    [`${tag}-post-%`],
  );
  expect(rollup.rows[0]).toEqual({ events: ids.length, total: rows[0].total });
}

async function storedBy(proc: RoleProcess): Promise<number> {
  const port = await proc.running;
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number(/finops_storage_events_total\{outcome="stored"\} (\d+)/.exec(text)?.[1] ?? 0);
}

describe('storage consumer processes under SIGKILL', () => {
  let env: TestEnv;
  let tracker: CostTracker;
  const procs: RoleProcess[] = [];
  const spawn = () => {
    const p = spawnRoles(['storage'], { ...env.overrides, ...PROCESS_SETTINGS });
    procs.push(p);
    return p;
  };

  beforeAll(async () => {
    env = await createTestEnv('crash');
    tracker = new CostTracker({ overrides: env.overrides });
    await tracker.start();
  });
  afterEach(async () => {
    await Promise.all(procs.splice(0).map((p) => p.kill('SIGKILL')));
  });
  afterAll(async () => {
    await tracker.close();
    await env.close();
  });

  it('loses and duplicates nothing when the only consumer is killed mid-stream four times', async () => {
    const tag = `${env.id}-crash`;
    let consumer = spawn();
    await consumer.running;
    const publishing = publishSteadily(tracker, env, 24_000, 2000, tag);
    for (let kill = 1; kill <= 4; kill++) {
      const before = await storedCount(env, tag);
      await waitFor(async () => (await storedCount(env, tag)) > before + 1000, { timeoutMs: 60_000, what: `progress before kill ${kill}` });
      await consumer.kill('SIGKILL');
      consumer = spawn();
      await consumer.running;
    }
    const ids = await publishing;
    await assertExactlyOnce(env, tag, ids);
  });

  it('on SIGTERM finishes the batch in hand, commits its offsets and exits 0', async () => {
    // A topic of its own, so committed offsets count exactly this test's messages.
    const own = await createTestEnv('graceful');
    const ownTracker = new CostTracker({ overrides: own.overrides });
    try {
      const tag = `${own.id}-graceful`;
      const consumer = spawnRoles(['storage'], { ...own.overrides, ...PROCESS_SETTINGS });
      procs.push(consumer);
      await consumer.running;
      const publishing = publishSteadily(ownTracker, own, 8000, 4000, tag);
      await waitFor(async () => (await storedCount(own, tag)) > 1000, { what: 'consumer storing' });
      expect(await consumer.kill('SIGTERM')).toBe(0);
      const storedAtExit = await storedCount(own, tag);
      const admin = own.kafka.admin();
      await admin.connect();
      const [committed] = await admin.fetchOffsets({ groupId: String(own.overrides.STORAGE_GROUP_ID), topics: [String(own.overrides.TOPIC_COST_EVENTS)] });
      await admin.disconnect();
      // Everything it stored is committed, and it committed nothing it had not stored.
      expect(committed.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0)).toBe(storedAtExit);

      const ids = await publishing;
      const successor = spawnRoles(['storage'], { ...own.overrides, ...PROCESS_SETTINGS });
      procs.push(successor);
      await assertExactlyOnce(own, tag, ids);
      // The successor resumed where the first stopped: it re-read nothing already stored.
      const port = await successor.running;
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(Number(/finops_storage_events_total\{outcome="duplicate"\} (\d+)/.exec(text)?.[1] ?? -1)).toBe(0);
    } finally {
      await ownTracker.close();
      await own.close();
    }
  });

  it('stores every event exactly once with three consumers in one group over six partitions, one killed mid-stream', async () => {
    const tag = `${env.id}-scale`;
    const group = { STORAGE_GROUP_ID: `${env.id}.scale-group` };
    const three = [0, 1, 2].map(() => {
      const p = spawnRoles(['storage'], { ...env.overrides, ...PROCESS_SETTINGS, ...group });
      procs.push(p);
      return p;
    });
    await Promise.all(three.map((p) => p.running));
    const publishing = publishSteadily(tracker, env, 24_000, 2000, tag);
    // Every member has partitions and stores events before one dies.
    await waitFor(async () => (await Promise.all(three.map(storedBy))).every((n) => n > 0), { timeoutMs: 60_000, what: 'all three consumers storing' });
    const [victim, ...survivors] = three;
    await victim.kill('SIGKILL');
    const before = await Promise.all(survivors.map(storedBy));
    const ids = await publishing;
    await assertExactlyOnce(env, tag, ids);
    const after = await Promise.all(survivors.map(storedBy));
    // The survivors took over the victim's partitions and kept storing.
    expect(after[0] + after[1]).toBeGreaterThan(before[0] + before[1]);
  });
});
