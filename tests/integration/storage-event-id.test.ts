import { randomUUID } from 'node:crypto';
import type avro from 'avsc';
import { Producer } from 'kafkajs';
import { CostTracker } from '../../producers';
import { AvroCodec } from '../../src/avro/codec';
import { topics } from '../../src/config';
import { CostEvent } from '../../src/events';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { costEventWriter, DeadLetter, readDeadLetters } from '../../testkit/in-process';
import { waitFor } from '../../testkit/wait-for';
import { eventFingerprint, eventKey } from '../../consumers/storage/event-key';

function event(persona: string, patch: Partial<CostEvent> = {}): CostEvent {
  return {
    event_id: randomUUID(), event_time: new Date(), cost_type: 'openai_api', amount: 7_500_000n, currency: 'USD', persona_id: persona,
    post_id: `${persona}-post`, operation: 'hook_generation', service: 'test', correlation_id: 'corr', request_id: 'req',
    llm_usage: { provider: 'openai', model: 'gpt-4o', input_tokens: 1000, output_tokens: 500, cached_input_tokens: 0 },
    compute_usage: null, vector_db_usage: null, price: { source: 'test', version: '1', status: 'priced', unit_prices: {} }, metadata: {}, ...patch,
  };
}

const monthStart = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1));

describe('one row per event id, whatever its event time', () => {
  let env: TestEnv;
  let producer: Producer;
  let type: avro.Type;
  let schemaId: number;
  let deadLetters: DeadLetter[];

  beforeAll(async () => {
    env = await createTestEnv('eventid');
    ({ producer, type, schemaId } = await costEventWriter(env));
    deadLetters = await readDeadLetters(env);
    await startStorage(env);
  });
  afterAll(() => env.close());

  const send = (events: CostEvent[]) =>
    producer.send({ topic: topics(env.overrides).costEvents, acks: -1, messages: events.map((e) => ({ key: e.persona_id, value: AvroCodec.encode(schemaId, type, e) })) });
  const rows = async (persona: string) => (await env.pool.query('SELECT event_id, event_time, amount_usd::text AS amount FROM cost_events WHERE persona_id = $1', [persona])).rows;
  const rollups = async (persona: string) => ({
    post: (await env.pool.query('SELECT total_usd::text AS total, event_count::int AS n FROM post_costs WHERE post_id = $1', [`${persona}-post`])).rows[0],
    daily: (await env.pool.query('SELECT coalesce(sum(total_usd), 0)::text AS total, coalesce(sum(event_count), 0)::int AS n FROM persona_daily_costs WHERE persona_id = $1', [persona])).rows[0],
  });

  it('stores an id published three times with three event times, across a month boundary, once; the rollups count it once', async () => {
    const persona = `${env.id}-thrice`;
    const now = new Date();
    const first = event(persona, { event_time: new Date(monthStart(now).getTime() - 1000) }); // last second of last month
    const times = [first.event_time, new Date(monthStart(now).getTime() + 1000), now];
    // Three separate sends, as a caller's retries and a replay would arrive: separate batches.
    for (const t of times) {
      await send([{ ...first, event_time: t }]);
      await new Promise((r) => setTimeout(r, 300));
    }
    // Then a marker, so we know all three were consumed.
    await send([event(persona, { post_id: `${persona}-marker`, amount: 1n })]);
    await waitFor(async () => (await rows(persona)).some((r) => r.amount === '0.000000001'), { what: 'marker stored' });
    const stored = (await rows(persona)).filter((r) => r.event_id === first.event_id);
    expect(stored).toHaveLength(1);
    expect(stored[0].event_time.toISOString()).toBe(first.event_time.toISOString()); // the first arrival wins
    expect(await rollups(persona)).toEqual({ post: { total: '0.007500000', n: 1 }, daily: { total: '0.007500001', n: 2 } });

    // A replay of all three in one batch changes nothing either.
    await send(times.map((t) => ({ ...first, event_time: t })));
    await send([event(persona, { post_id: `${persona}-marker2`, amount: 2n })]);
    await waitFor(async () => (await rows(persona)).some((r) => r.amount === '0.000000002'), { what: 'second marker stored' });
    expect((await rows(persona)).filter((r) => r.event_id === first.event_id)).toHaveLength(1);
    expect((await rollups(persona)).post).toEqual({ total: '0.007500000', n: 1 });
    const dead = await env.pool.query('SELECT count(*)::int AS n FROM dead_letters WHERE source_topic = $1 AND reason = $2', [topics(env.overrides).costEvents, 'event_id.conflict']);
    expect(dead.rows[0].n).toBe(0);
  });

  it('stores a caller retry through the SDK (same eventId, a later event time) once, non-UUID ids included', async () => {
    const persona = `${env.id}-sdk`;
    const tracker = new CostTracker({ overrides: env.overrides });
    env.cleanup(() => tracker.close());
    for (const eventId of [randomUUID(), `order-${env.id}-42`]) {
      const call = { model: 'gpt-4o', inputTokens: 1000, outputTokens: 500, personaId: persona, postId: `${persona}-post`, eventId };
      await tracker.trackOpenAICost(call);
      await new Promise((r) => setTimeout(r, 1100));
      await tracker.trackOpenAICost(call);
    }
    await tracker.trackOpenAICost({ model: 'gpt-4o', inputTokens: 1, outputTokens: 1, personaId: persona, postId: `${persona}-marker` });
    await waitFor(async () => (await rows(persona)).length >= 3, { what: 'marker stored' });
    await new Promise((r) => setTimeout(r, 500));
    expect((await rows(persona)).length).toBe(3);
    expect((await rollups(persona)).post).toEqual({ total: '0.015000000', n: 2 });
  });

  it('dead-letters a second arrival with other content as event_id.conflict; the first stands', async () => {
    const persona = `${env.id}-conflict`;
    const first = event(persona);
    await send([first]);
    await waitFor(async () => (await rows(persona)).length === 1, { what: 'first stored' });
    const changed = [
      { ...first, amount: 9_000_000n, event_time: new Date(Date.now() + 1000) },
      { ...first, persona_id: `${persona}-other` },
      { ...first, cost_type: 'vector_db' as const, llm_usage: null, vector_db_usage: { provider: 'pinecone', operation: 'query', units: 1 } },
    ];
    // The amount change on the same key (partition) as the first; in one batch with a duplicate of the first.
    await send([changed[0], { ...first }]);
    await send([changed[1]]);
    await send([changed[2]]);
    const conflicts = await waitFor(async () => {
      const { rows: r } = await env.pool.query<{ reason: string; error: string }>('SELECT reason, error FROM dead_letters WHERE source_topic = $1 AND reason = $2', [topics(env.overrides).costEvents, 'event_id.conflict']);
      return r.length >= 3 ? r : undefined;
    }, { what: 'three conflicts dead-lettered' });
    expect(conflicts).toHaveLength(3);
    expect(conflicts[0].error).toContain(first.event_id);
    expect(await rows(persona)).toEqual([{ event_id: first.event_id, event_time: first.event_time, amount: '0.007500000' }]);
    expect(await rows(`${persona}-other`)).toEqual([]);
    expect((await rollups(persona)).post).toEqual({ total: '0.007500000', n: 1 });
    const conflictRecords = () => deadLetters.filter((d) => d.headers['dlq.reason'] === 'event_id.conflict');
    await waitFor(() => conflictRecords().length === 3, { what: 'conflicts on the dead-letter topic' });
    for (const { headers: h } of conflictRecords()) {
      expect(h['dlq.origin.topic']).toBe(topics(env.overrides).costEvents);
      expect(h['dlq.origin.offset']).toMatch(/^\d+$/);
    }
    // Each carries its message as it came: the same key and the same Avro bytes as were published.
    const published = changed.map((e) => AvroCodec.encode(schemaId, type, e).toString('hex')).sort();
    expect(conflictRecords().map((d) => d.value?.toString('hex')).sort()).toEqual(published);
    expect(conflictRecords().map((d) => d.headers['dlq.origin.key']).sort()).toEqual(changed.map((e) => e.persona_id).sort());
  });

  it('claims ids with the key, event time and fingerprint that SQL computes from the stored rows', async () => {
    const persona = `${env.id}-claims`;
    // One send of more than COPY_CLAIM_MIN_IDS events, so the batch's ids are COPYed (binary) rather than inserted.
    const events = Array.from({ length: 400 }, (_, i) => event(persona, {
      event_id: i % 3 === 0 ? randomUUID() : i % 3 === 1 ? randomUUID().toUpperCase() : `order-${env.id}-${i}`,
      event_time: new Date(Date.now() - 86_400_000 * (i % 40) - (i * 7919) % 86_400_000),
      amount: BigInt(i) * 1_234_567n + (i % 5 === 0 ? 99_999_999_999_999n : 0n),
      post_id: i % 4 === 0 ? null : `${persona}-post-${i % 9}`,
    }));
    await send(events);
    await waitFor(async () => (await rows(persona)).length === events.length, { what: 'all stored' });
    const { rows: check } = await env.pool.query(
      `SELECT count(*)::int AS n,
              count(*) FILTER (WHERE i.event_time = e.event_time
                                 AND i.fingerprint = finops_event_fingerprint(e.cost_type, e.amount_usd, e.persona_id, e.post_id))::int AS same
       FROM cost_events e JOIN cost_event_ids i ON i.event_key = finops_event_key(e.event_id)
       WHERE e.persona_id = $1`,
      [persona],
    );
    expect(check[0]).toEqual({ n: events.length, same: events.length });
  });

  it('stores a large batch holding an id twice, and once with other content, one row per id', async () => {
    const persona = `${env.id}-large-repeat`;
    // More than COPY_CLAIM_MIN_IDS events in one send: the optimistic id COPY meets the repeats itself.
    const events = Array.from({ length: 400 }, (_, i) => event(persona, { post_id: `${persona}-post-${i % 7}` }));
    const repeat = { ...events[10], event_time: new Date(events[10].event_time.getTime() + 5000) };
    const conflict = { ...events[20], amount: 1n };
    await send([...events, repeat, conflict]);
    await waitFor(async () => (await env.pool.query('SELECT 1 FROM dead_letters WHERE reason = $1 AND error LIKE $2', ['event_id.conflict', `%${events[20].event_id}%`])).rowCount === 1, { what: 'conflict dead-lettered' });
    const stored = await rows(persona);
    expect(stored).toHaveLength(events.length);
    expect(new Set(stored.map((r) => r.event_id)).size).toBe(events.length);
    expect(stored.find((r) => r.event_id === events[10].event_id)?.event_time.toISOString()).toBe(events[10].event_time.toISOString());
    expect(stored.find((r) => r.event_id === events[20].event_id)?.amount).toBe('0.007500000');
    expect((await rollups(persona)).daily).toEqual({ total: '3.000000000', n: 400 }); // 400 × 0.0075
    // The repeat is a duplicate, dropped: not a row Postgres refused and the batch dead-lettered.
    const others = await env.pool.query('SELECT reason FROM dead_letters WHERE source_topic = $1 AND reason <> $2', [topics(env.overrides).costEvents, 'event_id.conflict']);
    expect(others.rows).toEqual([]);
  });

  it('keys and fingerprints ids in the consumer as the migration did in SQL', async () => {
    const ids = [randomUUID(), 'order-42', randomUUID().toUpperCase(), 'ünïcødé-😀-id', `{${randomUUID()}}`, 'x'.repeat(255)];
    const amounts = [0n, 1n, 7_500_000n, 99_999_999_999_999_999_999n];
    for (const id of ids) {
      for (const amount of amounts) {
        const e = { cost_type: 'kubernetes' as const, amount, persona_id: `persona-${id.length}`, post_id: amount === 1n ? null : `post-${id}` };
        const { rows } = await env.pool.query(
          "SELECT finops_event_key($1)::text AS key, finops_event_fingerprint($2, ($3::numeric * 0.000000001)::numeric(20, 9), $4, $5)::text AS fp",
          [id, e.cost_type, amount.toString(), e.persona_id, e.post_id],
        );
        expect(rows[0]).toEqual({ key: eventKey(id), fp: eventFingerprint(e) });
      }
    }
  });
});
