import { eventFingerprint, eventKey } from '../../consumers/storage/event-key';
import { classify, firstArrivals, ledgerRow, originalMessage, rollupDeltas, rowEventId, rowEventTime, rowFingerprint, rowKey, rowPublishedAt } from '../../consumers/storage/ledger-batch';
import type { StoredEvent } from '../../consumers/storage/copy-rows';
import type { CostEvent } from '../../src/events';

function stored(id: string, patch: Partial<CostEvent> = {}, offset = 0): StoredEvent {
  return {
    partition: 0,
    offset: String(offset),
    event: {
      event_id: id, event_time: new Date('2026-11-30T23:59:59Z'), cost_type: 'openai_api', amount: 7_500_000n, currency: 'USD', persona_id: 'p1',
      post_id: 'post-1', operation: null, service: null, correlation_id: null, request_id: null,
      llm_usage: { provider: 'openai', model: 'gpt-4o', input_tokens: 1, output_tokens: 1, cached_input_tokens: 0 },
      compute_usage: null, vector_db_usage: null, price: { source: 't', version: '1', status: 'priced', unit_prices: {} }, metadata: {}, ...patch,
    },
  };
}

describe('event keys', () => {
  it('keys a canonical UUID as itself and any other id by the md5 of its text', () => {
    const uuid = '8f0c2b1e-1111-4222-8333-444455556666';
    expect(eventKey(uuid)).toBe(uuid);
    expect(eventKey('order-42')).toBe('f5fa3fc1-084b-9fb7-8803-f0ffce16ba04'); // finops_event_key('order-42') in Postgres
    expect(eventKey(uuid.toUpperCase())).not.toBe(uuid); // another id, as text
    expect(eventKey(uuid.toUpperCase())).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('fingerprints cost type, amount, persona and post, not the event time', () => {
    const base = stored('a').event;
    expect(eventFingerprint(base)).toBe(eventFingerprint({ ...base, event_time: new Date() } as CostEvent));
    for (const patch of [{ amount: 7_500_001n }, { persona_id: 'p2' }, { post_id: null }, { cost_type: 'vector_db' as const }]) {
      expect(eventFingerprint({ ...base, ...patch })).not.toBe(eventFingerprint(base));
    }
  });
});

describe('ledger rows', () => {
  it('carry the id tuple (key, event time, fingerprint) and the message as it came', () => {
    const event = stored('a').event;
    const key = Buffer.from('p1');
    const value = Buffer.from([0, 0, 0, 0, 7, 1, 2, 3]);
    const row = ledgerRow({ event, partition: 2, offset: '9', key, value }, 1234);
    expect(rowKey(row)).toBe(eventKey(event.event_id));
    expect(rowEventId(row)).toBe(event.event_id);
    expect(rowFingerprint(row)).toBe(eventFingerprint(event));
    expect(rowEventTime(row)).toBe('2026-11-30T23:59:59.000Z');
    expect(originalMessage(row)).toEqual({ key, value });
    expect(rowPublishedAt(row)).toBe(1234);
    expect(originalMessage(ledgerRow({ event, partition: 2, offset: '9', key: null, value: null }))).toEqual({ key: null, value: null });
  });
});

describe('a row\'s event id and key', () => {
  it('are read back from the COPY line and the id tuple, whatever the id holds', () => {
    for (const id of ['a\tb', 'x\\y', 'line\nbreak\r', '\\N', 'é-id ☃', 'order-42', '0198f3c2-7d1e-7abc-8def-0123456789ab', 'tab-at-end\t']) {
      const row = ledgerRow(stored(id));
      expect(rowEventId(row)).toBe(id);
      expect(rowKey(row)).toBe(eventKey(id));
    }
  });
});

describe('classify', () => {
  it('keeps the first arrival of an id in a batch and sorts later ones into duplicates and conflicts', () => {
    const batch = [stored('a', {}, 1), stored('a', { event_time: new Date() }, 2), stored('a', { amount: 1n }, 3), stored('b', {}, 4)].map(ledgerRow);
    const { firsts, repeats } = firstArrivals(batch);
    expect(firsts.map((k) => k.offset)).toEqual(['1', '4']);
    const result = classify(firsts, repeats, new Map());
    expect(result.fresh.map((k) => k.offset)).toEqual(['1', '4']);
    expect(result.duplicates).toBe(1);
    expect(result.conflicts.map((k) => k.offset)).toEqual(['3']);
  });

  it('lets the held content win over a batch whose first arrival differs', () => {
    const batch = [stored('a', { amount: 1n }, 1), stored('a', {}, 2)].map(ledgerRow);
    const held = new Map([[rowKey(batch[1]), rowFingerprint(batch[1])]]);
    const { firsts, repeats } = firstArrivals(batch);
    const result = classify(firsts, repeats, held);
    expect(result.fresh).toEqual([]);
    expect(result.duplicates).toBe(1);
    expect(result.conflicts.map((k) => k.offset)).toEqual(['1']);
  });
});

describe('rollupDeltas', () => {
  it('sums exactly by post and by persona, day, type and model', () => {
    const rows = [
      stored('a', { amount: 100_000_000_000_000_000n }),
      stored('b', { amount: 1n, event_time: new Date('2026-12-01T00:00:01Z'), price: { source: 't', version: '1', status: 'unknown_model', unit_prices: {} } }),
      stored('c', { cost_type: 'vector_db', llm_usage: null, vector_db_usage: { provider: 'x', operation: 'query', units: 1 }, amount: 2n, post_id: null }),
    ];
    const { posts, daily, deltas } = rollupDeltas(rows.map(ledgerRow));
    expect(posts).toEqual([{ post_id: 'post-1', persona_id: 'p1', amount_nano: 100_000_000_000_000_001n }]);
    expect(daily.map((d) => [d.day, d.cost_type, d.model, d.total, d.events])).toEqual([
      ['2026-11-30', 'openai_api', 'gpt-4o', 100_000_000_000_000_000n, 1],
      ['2026-11-30', 'vector_db', '', 2n, 1],
      ['2026-12-01', 'openai_api', 'gpt-4o', 1n, 1],
    ]);
    expect(deltas).toEqual([
      { persona_id: 'p1', cost_type: 'openai_api', model: 'gpt-4o', operation: null, amount_usd: '100000000.000000001', events: 2 },
      { persona_id: 'p1', cost_type: 'vector_db', model: '', operation: 'query', amount_usd: '0.000000002', events: 1 },
    ]);
  });
});
