import { AvroCodec, avroType } from '../../src/avro/codec';
import { CostEventEncoder } from '../../src/avro/cost-event-encoder';
import { loadSchema } from '../../src/avro/schemas';
import { CostEvent } from '../../src/events';

const type = avroType(loadSchema('cost-event'));

/** A deterministic pseudo-random generator, so a failure is reproducible. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

const TEXTS = ['', 'a', 'persona-42', 'ünïcødé ✓', '日本語のテキスト', 'x'.repeat(63), 'y'.repeat(64), 'z'.repeat(300), 'mixed 🚀 emoji', '\u0000nul'];
const AMOUNTS = [0n, 1n, -1n, 127n, 128n, -128n, -129n, 255n, 256n, 32767n, 32768n, -32768n, -32769n, 2n ** 47n - 1n, 2n ** 47n, -(2n ** 47n), -(2n ** 47n) - 1n,
  10n ** 20n - 1n, -(10n ** 20n) + 1n, 123_456_789n];
const LONGS = [0, 1, -1, 63, 64, -64, -65, 2 ** 30 - 1, 2 ** 30, -(2 ** 30), -(2 ** 30) - 1, 2 ** 31, 1_733_000_000_000, Number.MAX_SAFE_INTEGER - 1, Number.MIN_SAFE_INTEGER + 1];

function randomEvent(r: () => number, i: number): CostEvent {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const text = () => pick(TEXTS);
  const maybe = () => (r() < 0.5 ? null : text());
  const kind = i % 3;
  const price = { source: text(), version: text(), status: pick(['priced', 'unknown_model', 'unpriced'] as const), unit_prices: (r() < 0.3 ? {} : { [text() || 'k']: text(), input_mtok: '2.5' }) as Record<string, string> };
  return {
    event_id: r() < 0.8 ? '3f0c6a3e-9d0b-4c1e-8f7a-1b2c3d4e5f60' : text(),
    event_time: new Date(pick([0, 1, 1_733_000_000_000, 4_102_444_800_000, -86_400_000])),
    cost_type: pick(['openai_api', 'kubernetes', 'vector_db', 'other'] as const),
    amount: pick(AMOUNTS),
    currency: 'USD',
    persona_id: text(),
    post_id: maybe(), operation: maybe(), service: maybe(), correlation_id: maybe(), request_id: maybe(),
    llm_usage: kind === 0 ? { provider: text(), model: text(), input_tokens: pick(LONGS), output_tokens: pick(LONGS), cached_input_tokens: pick(LONGS) } : null,
    compute_usage: kind === 1 ? { resource_type: text(), cpu_cores: pick(AMOUNTS.filter((a) => a < 10n ** 18n && a > -(10n ** 18n))), memory_gb: pick([0n, 500_000n, 10n ** 18n - 1n]), duration_ms: pick(LONGS) } : null,
    vector_db_usage: kind === 2 ? { provider: text(), operation: text(), units: pick(LONGS) } : null,
    price: r() < 0.5 ? Object.freeze({ ...price, unit_prices: Object.freeze(price.unit_prices) }) : price,
    metadata: r() < 0.5 ? {} : { [text() || 'm']: text(), team: 'growth' },
  };
}

describe('the hand-written cost-event encoder', () => {
  it('writes exactly the bytes avsc writes, for 5,000 varied events', () => {
    const encoder = new CostEventEncoder();
    const r = rng(7);
    for (let i = 0; i < 5000; i++) {
      const event = randomEvent(r, i);
      const expected = AvroCodec.encode(1234, type, event);
      const actual = encoder.encode(1234, event);
      if (!actual.equals(expected)) throw new Error(`event ${i} differs: ${JSON.stringify(event, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))}`);
    }
  });

  it('hands out events that stay intact as later events fill and replace its slabs', () => {
    const encoder = new CostEventEncoder();
    const r = rng(11);
    const events = Array.from({ length: 3000 }, (_, i) => randomEvent(r, i));
    const encoded = events.map((e) => encoder.encode(7, e));
    events.forEach((e, i) => expect(encoded[i].equals(AvroCodec.encode(7, type, e))).toBe(true));
  });

  it('writes a frozen price from cached bytes and the same bytes again', () => {
    const encoder = new CostEventEncoder();
    const event = randomEvent(rng(1), 0);
    event.price = Object.freeze({ source: 's', version: 'v', status: 'priced', unit_prices: Object.freeze({ a: '1' }) });
    const first = encoder.encode(1, event);
    expect(encoder.encode(1, event).equals(first)).toBe(true);
    expect(first.equals(AvroCodec.encode(1, type, event))).toBe(true);
  });

  it('refuses values avsc refuses', () => {
    const encoder = new CostEventEncoder();
    const good = randomEvent(rng(3), 2);
    const bad: Partial<Record<keyof CostEvent, unknown>>[] = [
      { amount: 10n ** 20n }, { amount: 1.5 }, { event_id: 7 }, { cost_type: 'nope' }, { event_time: new Date(NaN) }, { persona_id: null },
      { metadata: { a: 1 } }, { vector_db_usage: { provider: 'p', operation: 'o', units: 1.5 } },
    ];
    for (const change of bad) {
      const event = { ...good, ...change } as CostEvent;
      expect(() => AvroCodec.encode(1, type, event)).toThrow();
      expect(() => encoder.encode(1, event)).toThrow();
    }
  });
});
