import { costEventFromJson, completeCostEvent, ValidationClock } from '../../src/events';
import { InvalidInputError } from '../../src/errors';
import { priceBookFromConfig } from '../../src/pricing';
import { BatchError, parseBatch } from '../../ingest/request-body';

const book = priceBookFromConfig({});
const clock = new ValidationClock({});

function reasonOf(value: unknown): string | undefined {
  try {
    completeCostEvent(costEventFromJson(value), book, clock.current());
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return (err as InvalidInputError).reason;
  }
}

describe('cost events in their JSON form (the SDK\'s completion path)', () => {
  it('prices usage exactly as the SDK does, and keeps a given amount and id', () => {
    const e = completeCostEvent(costEventFromJson({ persona_id: 'p', cost_type: 'openai_api', llm_usage: { model: 'gpt-4o', input_tokens: 1000, output_tokens: 500 } }), book, clock.current());
    expect(e.amount).toBe(book.llm('openai', 'gpt-4o', 1000, 500, 0).nanoUsd);
    expect(e.event_id).toMatch(/^[0-9a-f-]{36}$/);
    const given = completeCostEvent(costEventFromJson({ event_id: 'x-1', persona_id: 'p', cost_type: 'other', amount: '0.000000001', event_time: '2026-01-01T00:00:00+01:00' }), book, { ...clock.current(), now: Date.parse('2026-01-02T00:00:00Z') });
    expect({ id: given.event_id, amount: given.amount, time: given.event_time.toISOString(), source: given.price.source }).toEqual({ id: 'x-1', amount: 1n, time: '2025-12-31T23:00:00.000Z', source: 'producer' });
  });

  it.each<[unknown, string]>([
    [{ persona_id: 'p', cost_type: 'other', amount: 1, extra: 1 }, 'extra.unknown'],
    [{ persona_id: 'p', cost_type: 'openai_api', llm_usage: { model: 'm', input_tokens: 1.5, output_tokens: 1 } }, 'llm_usage.input_tokens.invalid'],
    [{ persona_id: 'p', cost_type: 'openai_api', llm_usage: { input_tokens: 1, output_tokens: 1 } }, 'llm_usage.model.missing'],
    [{ persona_id: 'p', cost_type: 'kubernetes', compute_usage: { cpu_cores: '-1', memory_gb: '1', duration_ms: 1 } }, 'compute_usage.cpu_cores.negative'],
    [{ persona_id: 'p', cost_type: 'vector_db', vector_db_usage: { units: 1 } }, 'vector_db_usage.operation.missing'],
    [{ persona_id: 7, cost_type: 'other', amount: '1' }, 'persona_id.invalid'],
    [{ persona_id: 'p', cost_type: 'other', amount: '1', event_id: '' }, 'event_id.missing'],
    [{ persona_id: 'p', cost_type: 'other', amount: '1', price: { source: 's', version: 'v', status: 'guessed' } }, 'price.status.invalid'],
    ['not an object', 'event.invalid'],
  ])('refuses %j with %s', (value, reason) => expect(reasonOf(value)).toBe(reason));
});

describe('POST /events bodies', () => {
  const ok = { persona_id: 'p', cost_type: 'other', amount: '1' };
  it('takes an array, {"events": [...]}, one CloudEvent and a batch of them', () => {
    expect(parseBatch('application/json', [ok, ok], 10)).toHaveLength(2);
    expect(parseBatch('application/json', { events: [ok] }, 10)).toHaveLength(1);
    const ce = { specversion: '1.0', id: 'i', source: 's', type: 'finops.cost-event.v1', data: ok };
    expect(parseBatch('application/cloudevents+json', ce, 10)).toEqual([{ index: 0, draft: expect.objectContaining({ event_id: 'i', persona_id: 'p' }) }]);
    expect(parseBatch('application/cloudevents-batch+json', [ce, { ...ce, id: 'j', ext1: 'x' }], 10)).toHaveLength(2);
  });

  it('names the index and field of each bad item, and refuses empty and oversized batches', () => {
    const items = parseBatch('application/json', [ok, { ...ok, amount: 'x' }], 10);
    expect(items[1]).toEqual({ index: 1, problem: { index: 1, field: 'amount', reason: 'amount.invalid', message: expect.stringMatching(/^events\[1\]\.amount: /) } });
    expect(() => parseBatch('application/json', [], 10)).toThrow(BatchError);
    expect(() => parseBatch('application/json', [ok, ok, ok], 2)).toThrow(/at most 2 \(INGEST_MAX_BATCH\)/);
    expect(() => parseBatch('application/cloudevents-batch+json', {}, 2)).toThrow(/JSON array of CloudEvents/);
  });
});
