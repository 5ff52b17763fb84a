import { randomUUID } from 'node:crypto';
import type avro from 'avsc';
import { Producer } from 'kafkajs';
import { AvroCodec, avroType } from '../../src/avro/codec';
import { loadSchema } from '../../src/avro/schemas';
import { topics } from '../../src/config';
import { CostEvent } from '../../src/events';
import { createTestEnv, TestEnv } from '../../testkit/fixtures';
import { startStorage } from '../helpers/storage';
import { costEventWriter, DeadLetter, readDeadLetters } from '../../testkit/in-process';
import { waitFor } from '../../testkit/wait-for';

/** A valid event to start from; each bad message changes one thing. */
function validEvent(persona: string, patch: Partial<CostEvent> = {}): CostEvent {
  return {
    event_id: randomUUID(), event_time: new Date(), cost_type: 'openai_api', amount: 7_500_000n, currency: 'USD', persona_id: persona,
    post_id: `${persona}-post`, operation: 'hook_generation', service: 'test', correlation_id: 'corr', request_id: 'req',
    llm_usage: { provider: 'openai', model: 'gpt-4o', input_tokens: 1000, output_tokens: 500, cached_input_tokens: 0 },
    compute_usage: null, vector_db_usage: null, price: { source: 'test', version: '1', status: 'priced', unit_prices: {} }, metadata: {}, ...patch,
  };
}

describe('bad input is dead-lettered with its reason, and nothing is lost', () => {
  let env: TestEnv;
  let producer: Producer;
  let costType: avro.Type;
  let schemaId: number;
  let dlqRecords: DeadLetter[];

  beforeAll(async () => {
    env = await createTestEnv('deadletter');
    ({ producer, type: costType, schemaId } = await costEventWriter(env));
    dlqRecords = await readDeadLetters(env);
    await startStorage(env);
  });
  afterAll(() => env.close());

  it('refuses each kind of bad message with a reason, stores the good ones, and accounts for every message', async () => {
    const persona = `${env.id}-p`;
    const encode = (e: CostEvent) => AvroCodec.encode(schemaId, costType, e);
    // A producer in another language might write amounts as a float: register such a schema
    // under another subject (ids are global) and send with it.
    const floatSchema = { ...loadSchema('cost-event'), fields: (loadSchema('cost-event').fields as { name: string }[]).map((f) => (f.name === 'amount' ? { name: 'amount', type: 'double' } : f)) };
    const floatId = await env.codec.register(`${env.id}-float-producer`, floatSchema, 'NONE');
    const floatType = avroType(floatSchema);
    const nanEvent = { ...validEvent(persona), amount: NaN };
    // Amounts beyond NUMERIC(20,9), written with a wider decimal.
    const wide = avroType({ ...loadSchema('cost-event'), fields: (loadSchema('cost-event').fields as { name: string }[]).map((f) => (f.name === 'amount' ? { name: 'amount', type: { type: 'bytes', logicalType: 'decimal', precision: 38, scale: 9 } } : f)) });
    const truncated = encode(validEvent(persona)).subarray(0, 30);

    const bad: { name: string; value: Buffer | null; reason: string }[] = [
      { name: 'bytes that are not Avro', value: Buffer.from('{"amount": 1.5, "persona_id": "x"}'), reason: 'avro.bad_magic_byte' },
      { name: 'wrong magic byte', value: Buffer.concat([Buffer.from([1]), encode(validEvent(persona)).subarray(1)]), reason: 'avro.bad_magic_byte' },
      { name: 'unknown schema id', value: AvroCodec.encode(987_654_321, costType, validEvent(persona)), reason: 'avro.unknown_schema_id' },
      { name: 'too short for the header', value: Buffer.from([0, 0]), reason: 'avro.too_short' },
      { name: 'empty value (tombstone)', value: null, reason: 'avro.too_short' },
      { name: 'truncated Avro body', value: truncated, reason: 'avro.malformed' },
      { name: 'negative amount', value: encode(validEvent(persona, { amount: -5n })), reason: 'amount.negative' },
      { name: 'NaN amount from a float schema', value: AvroCodec.encode(floatId, floatType, nanEvent), reason: 'avro.incompatible_schema' },
      { name: 'overflowing amount', value: AvroCodec.encode(schemaId, wide, validEvent(persona, { amount: 10n ** 25n })), reason: 'amount.overflow' },
      { name: 'missing event id', value: encode(validEvent(persona, { event_id: '' })), reason: 'event_id.missing' },
      { name: 'missing persona id', value: encode(validEvent('')), reason: 'persona_id.missing' },
      { name: 'far-future time', value: encode(validEvent(persona, { event_time: new Date(Date.now() + 10 * 365 * 86_400_000) })), reason: 'event_time.future' },
      { name: 'far-past time', value: encode(validEvent(persona, { event_time: new Date('1999-01-01T00:00:00Z') })), reason: 'event_time.too_old' },
      { name: 'oversized metadata', value: encode(validEvent(persona, { metadata: { blob: 'x'.repeat(100_000) } })), reason: 'metadata.too_large' },
      { name: 'control characters in an id', value: encode(validEvent(persona, { post_id: 'post\u0000\u001b[31m' })), reason: 'post_id.control_characters' },
      { name: 'an id of 10,000 characters', value: encode(validEvent(persona, { request_id: 'r'.repeat(10_000) })), reason: 'request_id.too_long' },
      { name: 'NUL inside metadata', value: encode(validEvent(persona, { metadata: { k: 'v\u0000' } })), reason: 'metadata.nul_character' },
    ];
    // Hostile but printable strings are data: stored verbatim, never interpreted.
    const hostile = [
      validEvent(persona, { post_id: "p'); DROP TABLE cost_events; --" }),
      validEvent(persona, { operation: '<img src=x onerror=alert(1)>', metadata: { '\\N': '\\.', tab: 'a\tb', nl: 'x\ny' } }),
      validEvent(persona, { post_id: 'ünïcødé-😀-post', correlation_id: '%s%n${jndi:ldap://x}' }),
    ];
    const good = Array.from({ length: 20 }, () => validEvent(persona));

    // Interleave: bad, good, hostile — all on one key, so one partition, in this order.
    const messages = [
      ...bad.map((b) => ({ key: persona, value: b.value })),
      ...good.map((e) => ({ key: persona, value: encode(e) })),
      ...hostile.map((e) => ({ key: persona, value: encode(e) })),
    ];
    await producer.send({ topic: topics(env.overrides).costEvents, acks: -1, messages });
    const published = messages.length;

    const stored = await waitFor(async () => {
      const s = Number((await env.pool.query('SELECT count(*) FROM cost_events WHERE persona_id = $1', [persona])).rows[0].count);
      const d = Number((await env.pool.query('SELECT count(*) FROM dead_letters WHERE source_topic = $1', [topics(env.overrides).costEvents])).rows[0].count);
      return s + d === published ? { s, d } : false;
    }, { what: 'every message stored or dead-lettered' });
    expect(stored).toEqual({ s: good.length + hostile.length, d: bad.length });

    const { rows } = await env.pool.query('SELECT source_offset::int AS offset, reason, error FROM dead_letters WHERE source_topic = $1 ORDER BY source_offset', [topics(env.overrides).costEvents]);
    expect(rows.map((r) => r.reason)).toEqual(bad.map((b) => b.reason));
    for (const r of rows) expect(r.error.length).toBeGreaterThan(10);

    // The dead-letter topic carries the same records with their origin in headers.
    await waitFor(() => dlqRecords.length >= bad.length, { what: 'dead-letter topic records' });
    const byOffset = new Map(dlqRecords.map((r) => [Number(r.headers['dlq.origin.offset']), r]));
    rows.forEach((r, i) => {
      const record = byOffset.get(r.offset);
      expect(record?.headers['dlq.reason']).toBe(bad[i].reason);
      expect(record?.headers['dlq.origin.topic']).toBe(topics(env.overrides).costEvents);
      expect(record?.headers['dlq.origin.partition']).toMatch(/^\d+$/);
      expect(record?.key).toBe(`${topics(env.overrides).costEvents}/${record?.headers['dlq.origin.partition']}/${r.offset}`);
    });

    // Hostile strings came back exactly as sent.
    for (const e of hostile) {
      const row = (await env.pool.query('SELECT post_id, operation, correlation_id, metadata FROM cost_events WHERE event_id = $1', [e.event_id])).rows[0];
      expect(row).toEqual({ post_id: e.post_id, operation: e.operation, correlation_id: e.correlation_id, metadata: e.metadata });
    }
    expect((await env.pool.query("SELECT to_regclass('cost_events') IS NOT NULL AS ok")).rows[0].ok).toBe(true);
  });

  it('keeps consuming after poison messages', async () => {
    const persona = `${env.id}-after`;
    await producer.send({ topic: topics(env.overrides).costEvents, messages: [{ key: persona, value: Buffer.from('garbage') }, { key: persona, value: AvroCodec.encode(schemaId, costType, validEvent(persona)) }] });
    await waitFor(async () => (await env.pool.query('SELECT 1 FROM cost_events WHERE persona_id = $1', [persona])).rowCount === 1, { what: 'event after poison stored' });
  });
});
