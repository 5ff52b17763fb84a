import { Pool } from 'pg';
import { createPool } from '../../src/db/pool';
import { reprice } from '../../src/ledger/reprice';
import { formatUsd, nanoFromNumericText } from '../../src/money';
import { PriceBook, PriceBookOptions } from '../../src/pricing';
import { writeLedgerRows } from '../../testkit/ledger-rows';
import { uniqueId } from '../../testkit/fixtures';

const EVENTS = 20_000;
const options: PriceBookOptions = { unknownModel: 'flag', modelOverrides: {}, cpuUsdPerCoreHour: '0.031611', memoryUsdPerGbHour: '0.004237', vectorDbUsdPerUnit: {} };

interface EventRow { event_id: string; event_time: Date; cost_type: string; model: string | null; input_tokens: string | null; output_tokens: string | null; cached_input_tokens: string | null; amount_usd: string }

describe('re-pricing by replay', () => {
  let pool: Pool;
  const prefix = uniqueId('reprice');
  const start = new Date(Date.now() - 6 * 3_600_000);
  const end = new Date(start.getTime() + 3 * 3_600_000);
  const personas = Array.from({ length: 10 }, (_, i) => `${prefix}-persona-${i}`);
  let events: EventRow[];

  beforeAll(async () => {
    pool = createPool({}, 'test-reprice');
    await writeLedgerRows(pool, { prefix, count: EVENTS, start, spanMs: end.getTime() - start.getTime(), personas: 10, posts: 200 });
    events = (await pool.query<EventRow>(
      `SELECT event_id, event_time, cost_type, model, input_tokens, output_tokens, cached_input_tokens, amount_usd FROM cost_events WHERE persona_id = ANY($1)`, [personas],
    )).rows;
  });
  afterAll(() => pool.end());

  /** The expected amount of every event under `book`, computed one by one with BigInt by the SDK's own pricing. */
  const expectedUnder = (book: PriceBook, current: Map<string, bigint>) => {
    const next = new Map(current);
    for (const e of events) {
      if (e.cost_type !== 'openai_api') continue;
      const priced = book.llm('openai', e.model!, Number(e.input_tokens), Number(e.output_tokens), Number(e.cached_input_tokens), e.event_time);
      next.set(e.event_id, priced.nanoUsd);
    }
    return next;
  };
  const sum = (m: Map<string, bigint>) => [...m.values()].reduce((a, b) => a + b, 0n);
  const ledgerAdjusted = async () => (await pool.query(
    `SELECT (SELECT sum(coalesce(l.new_amount_usd, e.amount_usd))::text FROM cost_events e
               LEFT JOIN LATERAL (SELECT new_amount_usd FROM cost_adjustments a WHERE a.event_time = e.event_time AND a.event_id = e.event_id ORDER BY adjustment_id DESC LIMIT 1) l ON true
             WHERE e.persona_id = ANY($1)) AS events,
            (SELECT sum(total_usd + adjustment_usd)::text FROM persona_daily_costs WHERE persona_id = ANY($1)) AS daily,
            (SELECT sum(total_usd + adjustment_usd)::text FROM post_costs WHERE persona_id = ANY($1)) AS posts,
            (SELECT count(*)::int FROM cost_adjustments WHERE persona_id = ANY($1)) AS adjustments`, [personas],
  )).rows[0];

  it('writes adjustment rows whose totals equal an independent BigInt recomputation, leaves the events as they were, and adjusts once when run twice', async () => {
    const original = new Map(events.map((e) => [e.event_id, nanoFromNumericText(e.amount_usd)]));
    const book = new PriceBook(options);
    const expected = expectedUnder(book, original);
    const changed = events.filter((e) => expected.get(e.event_id) !== original.get(e.event_id));
    expect(changed.length).toBeGreaterThan(10_000);

    const report = await reprice(pool, book, { start, end, personaIds: personas, actor: 'test', reason: 'bundled table replaces the generated prices' });
    expect(report.events_examined).toBe(events.filter((e) => e.cost_type === 'openai_api').length);
    expect(report.events_adjusted).toBe(changed.length);
    expect(report.total.delta_usd).toBe(formatUsd(sum(expected) - sum(original)));
    expect(report.by_model.reduce((s, l) => s + nanoFromNumericText(l.delta_usd), 0n)).toBe(sum(expected) - sum(original));
    expect(report.by_persona.reduce((s, l) => s + l.events, 0)).toBe(changed.length);
    expect(report.by_day.reduce((s, l) => s + nanoFromNumericText(l.new_usd), 0n)).toBe(changed.reduce((s, e) => s + expected.get(e.event_id)!, 0n));
    const after = await ledgerAdjusted();
    expect(after).toEqual({ events: formatUsd(sum(expected)), daily: formatUsd(sum(expected)), posts: formatUsd(sum(expected)), adjustments: changed.length });
    // Originals untouched.
    const { rows } = await pool.query('SELECT sum(amount_usd)::text AS s FROM cost_events WHERE persona_id = ANY($1)', [personas]);
    expect(rows[0].s).toBe(formatUsd(sum(original)));
    const sample = (await pool.query('SELECT * FROM cost_adjustments WHERE persona_id = ANY($1) LIMIT 1', [personas])).rows[0];
    expect(sample).toMatchObject({ run_id: report.run_id, actor: 'test', target_version: book.version, old_price_version: expect.stringMatching(/^gen-old:openai\//) });
    expect(sample.new_price_version).toMatch(new RegExp(`^${book.version.replace(/[.+]/g, '\\$&')}:openai/`));

    const again = await reprice(pool, book, { start, end, personaIds: personas, actor: 'test', reason: 'same run again' });
    expect(again.events_adjusted).toBe(0);
    expect(again.total.delta_usd).toBe('0.000000000');
    expect(await ledgerAdjusted()).toEqual(after);

    // A later price version with an override effective mid-range adjusts from the adjusted amounts, not the originals.
    const mid = new Date(start.getTime() + 90 * 60_000);
    const later = new PriceBook({ ...options, modelOverrides: { 'gpt-4o': { input_mtok: '2.0000003', output_mtok: '7.4999999', cache_read_mtok: '1.0000005', effective_from: mid.toISOString() } } });
    const expected2 = expectedUnder(later, expected);
    const second = await reprice(pool, later, { start, end, personaIds: personas, models: ['gpt-4o'], actor: 'test', reason: 'gpt-4o price cut' });
    const changed2 = events.filter((e) => expected2.get(e.event_id) !== expected.get(e.event_id));
    expect(changed2.length).toBeGreaterThan(0);
    expect(changed2.every((e) => e.model === 'gpt-4o' && e.event_time >= mid)).toBe(true);
    expect(second.events_adjusted).toBe(changed2.length);
    expect(second.total.delta_usd).toBe(formatUsd(sum(expected2) - sum(expected)));
    const final = await ledgerAdjusted();
    expect(final).toMatchObject({ events: formatUsd(sum(expected2)), daily: formatUsd(sum(expected2)), posts: formatUsd(sum(expected2)) });
  });

  it('refuses a target version that is not the loaded one, a range that is empty and a run without a reason', async () => {
    const book = new PriceBook(options);
    await expect(reprice(pool, book, { start, end, targetVersion: 'v-nope', actor: 'test', reason: 'x' })).rejects.toThrow(/not the loaded one/);
    await expect(reprice(pool, book, { start: end, end: start, actor: 'test', reason: 'x' })).rejects.toThrow(/not before/);
    await expect(reprice(pool, book, { start, end, actor: 'test', reason: ' ' })).rejects.toThrow(/reason is required/);
  });

  it('leaves events of a model the target does not price as they are and reports the model', async () => {
    const table = { version: 'only-gpt-4o', origin: 'test', providers: [{ id: 'openai', name: 'OpenAI', api_pattern: 'x', models: [{ id: 'gpt-4o', match: { equals: 'gpt-4o' }, prices: { input_mtok: 2.5, output_mtok: 10 } }] }] };
    const book = new PriceBook({ ...options, table: table as never });
    const before = await ledgerAdjusted();
    const report = await reprice(pool, book, { start, end, personaIds: personas, models: ['o3-mini'], actor: 'test', reason: 'table without o3-mini' });
    expect(report.events_adjusted).toBe(0);
    expect(report.unpriced_models).toEqual([{ provider: 'openai', model: 'o3-mini', events: events.filter((e) => e.model === 'o3-mini').length }]);
    expect(await ledgerAdjusted()).toEqual(before);
  });
});
