import { CostTracker, TrackedCost } from '../../producers';
import { formatUsd } from '../../src/money';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { waitFor } from '../../testkit/wait-for';

const EVENTS = 400;

describe('effective-dated prices through the whole path', () => {
  let env: TestEnv;
  let tracker: CostTracker;
  // A price change half an hour ago, in the middle of the stream of event times below.
  const effectiveFrom = new Date(Math.floor(Date.now() / 1000) * 1000 - 30 * 60_000);

  beforeAll(async () => {
    env = await createTestEnv('effprices');
    tracker = new CostTracker({
      overrides: { ...env.overrides, PRICING_MODEL_OVERRIDES: JSON.stringify({ 'gpt-4o': [{ input_mtok: '3.1', output_mtok: '12.7', effective_from: effectiveFrom.toISOString() }] }) },
    });
    env.cleanup(() => tracker.close());
    await tracker.start();
    await startStorage(env);
  });
  afterAll(() => env.close());

  it('prices events before effective_from at the table price and from it on at the override, exactly, and stores what it priced', async () => {
    const persona = `${env.id}-persona`;
    const pending: Promise<TrackedCost>[] = [];
    for (let i = 0; i < EVENTS; i++) {
      // Event times from 60 min before the change to 60 min after, interleaved (not sorted): the SDK prices each at its own time.
      const offset = ((i * 7919) % EVENTS) - EVENTS / 2;
      const eventTime = new Date(effectiveFrom.getTime() + offset * 18_000 + (offset === 0 ? 0 : 1));
      pending.push(tracker.trackOpenAICost({ personaId: persona, postId: `${persona}-post-${i % 10}`, model: 'gpt-4o', inputTokens: 1000 + i, outputTokens: 333 + i, eventTime }));
    }
    const tracked = await Promise.all(pending);
    // Independent expectation: table price $2.50/$10 per million before, $3.10/$12.70 from effective_from on, rounded half-up once.
    const expected = (input: bigint, output: bigint, after: boolean) => {
      const micro = after ? input * 3_100_000n + output * 12_700_000n : input * 2_500_000n + output * 10_000_000n; // USD × 1e12 per token
      return (micro + 500n) / 1000n; // to nano-USD, half-up
    };
    let before = 0;
    for (let i = 0; i < EVENTS; i++) {
      const after = tracked[i].event.event_time.getTime() >= effectiveFrom.getTime();
      if (!after) before++;
      expect(tracked[i].nanoUsd).toBe(expected(BigInt(1000 + i), BigInt(333 + i), after));
      expect(tracked[i].event.price.source).toBe(after ? 'override' : '@pydantic/genai-prices');
    }
    expect(before).toBeGreaterThan(100);
    expect(EVENTS - before).toBeGreaterThan(100);

    await waitFor(async () => (await env.pool.query('SELECT count(*)::int AS n FROM cost_events WHERE persona_id = $1', [persona])).rows[0].n === EVENTS, {
      timeoutMs: 60_000, intervalMs: 300, what: `${EVENTS} stored events`,
    });
    const { rows } = await env.pool.query(
      `SELECT event_time >= $2 AS after, count(*)::int AS n, sum(amount_usd)::text AS total, count(DISTINCT price_version)::int AS versions, min(price_version) AS version
       FROM cost_events WHERE persona_id = $1 GROUP BY 1 ORDER BY 1`, [persona, effectiveFrom],
    );
    const sum = (after: boolean) => tracked.filter((t) => (t.event.event_time.getTime() >= effectiveFrom.getTime()) === after).reduce((s, t) => s + t.nanoUsd, 0n);
    expect(rows).toEqual([
      { after: false, n: before, total: formatUsd(sum(false)), versions: 1, version: expect.stringMatching(/:openai\/gpt-4o$/) },
      { after: true, n: EVENTS - before, total: formatUsd(sum(true)), versions: 1, version: expect.stringMatching(new RegExp(`:override/gpt-4o@${effectiveFrom.toISOString().replace(/\./g, '\\.')}$`)) },
    ]);
  });
});
