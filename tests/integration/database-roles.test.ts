import { Client } from 'pg';
import { CostTracker } from '../../producers';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { waitFor } from '../../testkit/wait-for';

/**
 * Least privilege (sql/050_database_roles.sql): each pipeline role logs in as a member of its
 * own group role and can do its own work and nothing else. The logins are the local stack's
 * (stack/postgres-roles.sql).
 */
function loginUrl(login: string): string {
  const url = new URL(process.env.DATABASE_URL!);
  url.username = login;
  url.password = login;
  return url.toString();
}

async function connectAs(login: string): Promise<Client> {
  const client = new Client({ connectionString: loginUrl(login) });
  await client.connect();
  return client;
}

/** The SQLSTATE a statement fails with ('' if it succeeds, inside a rolled-back savepoint). */
async function sqlState(client: Client, sql: string, params: unknown[] = []): Promise<string> {
  await client.query('BEGIN');
  try {
    await client.query(sql, params);
    return '';
  } catch (err) {
    return (err as { code?: string }).code ?? 'unknown';
  } finally {
    await client.query('ROLLBACK');
  }
}

const INSUFFICIENT_PRIVILEGE = '42501';

describe('database roles and grants', () => {
  let env: TestEnv;
  const clients: Client[] = [];
  const as = async (login: string) => {
    const c = await connectAs(login);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    env = await createTestEnv('dbroles');
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.end()));
    await env.close();
  });

  it('the API role reads and writes budgets and the controls audit, but cannot insert cost events or drop tables', async () => {
    const api = await as('finops_api_login');
    const persona = `${env.id}-api`;
    expect(await sqlState(api, "INSERT INTO cost_events (event_id, event_time, cost_type, amount_usd, persona_id) VALUES ('00000000-0000-4000-8000-000000000000', now(), 'openai', 1, $1)", [persona])).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await sqlState(api, 'DROP TABLE budgets')).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await sqlState(api, 'DROP TABLE cost_events')).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await sqlState(api, 'DELETE FROM persona_daily_costs')).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await sqlState(api, 'UPDATE cost_anomalies SET status = status')).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await sqlState(api, 'CREATE TABLE api_was_here (x int)')).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await sqlState(api, 'SELECT finops_ensure_partitions(1, 1)')).toBe(INSUFFICIENT_PRIVILEGE);
    // Its own work: reads, and budgets.
    expect(await sqlState(api, 'SELECT count(*) FROM cost_events')).toBe('');
    expect(await sqlState(api, 'SELECT count(*) FROM post_costs JOIN persona_targets USING (persona_id)')).toBe('');
    expect(await sqlState(api, 'SELECT count(*) FROM control_transitions')).toBe('');
    await api.query("INSERT INTO budgets (persona_id, period, limit_usd, updated_by) VALUES ($1, 'daily', 5, 'test')", [persona]);
    await api.query("UPDATE budgets SET limit_usd = 6 WHERE persona_id = $1 AND period = 'daily'", [persona]);
    await api.query('DELETE FROM budgets WHERE persona_id = $1', [persona]);
    await api.query("INSERT INTO api_audit_log (actor, token_id, action, persona_id, target, request_id) VALUES ('test', '000000000000', 'budget.delete', $1, 'daily', 'req-1')", [persona]);
    expect(await sqlState(api, 'SELECT count(*) FROM api_audit_log')).toBe('');
    expect(await sqlState(api, 'DELETE FROM api_audit_log')).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await sqlState(api, 'SELECT count(*) FROM cost_event_ids')).toBe(INSUFFICIENT_PRIVILEGE);
  });

  it('the storage role cannot update budgets, and stores events as a real storage consumer logged in as itself', async () => {
    const storage = await as('finops_storage_login');
    expect(await sqlState(storage, 'UPDATE budgets SET limit_usd = limit_usd')).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await sqlState(storage, 'DROP TABLE cost_events')).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await sqlState(storage, 'DELETE FROM cost_events')).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await sqlState(storage, 'SELECT count(*) FROM control_transitions')).toBe(INSUFFICIENT_PRIVILEGE);
    // Partition maintenance runs as the owner through the granted functions.
    expect(await sqlState(storage, 'SELECT finops_ensure_partitions(1, 1)')).toBe('');

    await startStorage(env, { STORAGE_DATABASE_URL: loginUrl('finops_storage_login'), STORAGE_BATCH_MAX_WAIT_MS: '20' });
    const tracker = new CostTracker({ overrides: env.overrides });
    await tracker.start();
    const tag = `${env.id}-storage`;
    try {
      await Promise.all(Array.from({ length: 20 }, (_, i) => tracker.trackVectorDbCost({ vectorOperation: 'query', units: 1 + i, personaId: `${tag}-p${i % 3}`, postId: `${tag}-post-${i % 4}`, operation: tag })));
    } finally {
      await tracker.close();
    }
    await waitFor(async () => Number((await env.pool.query('SELECT count(*) FROM cost_events WHERE operation = $1', [tag])).rows[0].count) === 20, { timeoutMs: 30_000, what: '20 rows stored by the storage login' });
    const { rows } = await env.pool.query('SELECT sum(event_count)::int AS events FROM post_costs WHERE post_id LIKE $1', [`${tag}-post-%`]);
    expect(rows[0].events).toBe(20);
  });

  it('the anomaly, alerts and breaker roles reach only their own tables', async () => {
    const anomaly = await as('finops_anomaly_login');
    expect(await sqlState(anomaly, 'SELECT count(*) FROM budgets JOIN persona_targets USING (persona_id)')).toBe('');
    expect(await sqlState(anomaly, 'SELECT count(*) FROM anomaly_checkpoints')).toBe('');
    expect(await sqlState(anomaly, 'UPDATE budgets SET limit_usd = limit_usd')).toBe(INSUFFICIENT_PRIVILEGE);
    // It reads the ledger to seed scoped budgets' spend at start (sql/070), and never writes it.
    expect(await sqlState(anomaly, 'SELECT count(*) FROM cost_events WHERE false')).toBe('');
    expect(await sqlState(anomaly, 'DELETE FROM cost_events WHERE false')).toBe(INSUFFICIENT_PRIVILEGE);
    const alerts = await as('finops_alerts_login');
    expect(await sqlState(alerts, 'SELECT count(*) FROM alert_deliveries')).toBe('');
    expect(await sqlState(alerts, 'SELECT count(*) FROM cost_anomalies')).toBe(INSUFFICIENT_PRIVILEGE);
    const breaker = await as('finops_breaker_login');
    expect(await sqlState(breaker, 'SELECT count(*) FROM control_transitions')).toBe('');
    expect(await sqlState(breaker, 'DELETE FROM control_transitions')).toBe(INSUFFICIENT_PRIVILEGE);
    expect(await sqlState(breaker, 'UPDATE budgets SET limit_usd = limit_usd')).toBe(INSUFFICIENT_PRIVILEGE);
  });
});
