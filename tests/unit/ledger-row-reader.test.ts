import { rng } from './anomaly/synthetic';
import { avroType } from '../../src/avro/codec';
import { CostEventEncoder } from '../../src/avro/cost-event-encoder';
import { loadSchema } from '../../src/avro/schemas';
import { type CostEvent, validateCostEvent, type ValidationLimits } from '../../src/events';
import { ledgerRow, originalMessage, rowEventId, rowKey, rowPublishedAt, type LedgerRow } from '../../consumers/storage/ledger-batch';
import { ID_TUPLE_BYTES } from '../../consumers/storage/id-copy';
import { LedgerRowReader } from '../../consumers/storage/ledger-row-reader';

const type = avroType(loadSchema('cost-event'));
const NOW = Date.parse('2026-12-03T12:00:00Z');
const LIMITS: ValidationLimits = { now: NOW, maxFutureSkewMs: 86_400_000, maxPastAgeMs: 400 * 86_400_000, maxMetadataBytes: 200 };

const NASTY = ['', 'a', 'x'.repeat(255), 'x'.repeat(256), 'tab\there', 'back\\slash', 'new\nline', 'café', 'quote"d', '\u0000', '\u007f', '9lives', '__proto__', '🙂', 'plain-id'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function text(r: () => number, hostile: boolean): string {
  if (hostile && r() < 0.2) return pick(r, NASTY);
  return `v-${Math.floor(r() * 1e6).toString(36)}`;
}

function map(r: () => number, hostile: boolean, prices: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  const n = Math.floor(r() * (hostile ? 5 : 3));
  for (let i = 0; i < n; i++) out[prices ? pick(r, ['input_mtok', 'output_mtok', 'cache_read_mtok', 'cpu_core_hour', 'memory_gb_hour', 'query', text(r, hostile)]) : text(r, hostile)] = prices && r() < 0.8 ? pick(r, ['2.5', '10', '0.031611', '0.004237', '0.000004', '1.25']) : text(r, hostile);
  return out;
}

/** A canonical UUID, or one character away from it (upper case, a non-hex letter, a hyphen moved): keyed by md5. */
function uuidLike(r: () => number): string {
  const id = `${Math.floor(r() * 2 ** 32).toString(16).padStart(8, '0')}-1111-4222-8333-${Math.floor(r() * 2 ** 48).toString(16).padStart(12, '0')}`;
  if (r() < 0.8) return id;
  const at = Math.floor(r() * 36);
  const swap = ['A', 'g', '-', '0', 'F'][Math.floor(r() * 5)];
  return id.slice(0, at) + swap + id.slice(at + 1);
}

function event(r: () => number, hostile: boolean): CostEvent {
  const kind = Math.floor(r() * 4);
  const big = hostile && r() < 0.1;
  return {
    event_id: r() < 0.7 ? uuidLike(r) : text(r, hostile),
    event_time: new Date(hostile ? NOW + Math.floor((r() - 0.6) * 1000 * 86_400_000) : NOW - Math.floor(r() * 300 * 86_400_000)),
    cost_type: (['openai_api', 'kubernetes', 'vector_db', 'other'] as const)[kind],
    amount: big ? BigInt(Math.floor(r() * 2 ** 53)) * 1000n : hostile && r() < 0.05 ? -5n : BigInt(Math.floor(r() * 2 ** (r() < 0.5 ? 20 : 40))),
    currency: hostile && r() < 0.05 ? 'EUR' : 'USD',
    persona_id: text(r, hostile),
    post_id: r() < 0.2 ? null : text(r, hostile),
    operation: r() < 0.3 ? null : text(r, hostile),
    service: r() < 0.3 ? null : text(r, hostile),
    correlation_id: r() < 0.5 ? null : text(r, hostile),
    request_id: r() < 0.5 ? null : text(r, hostile),
    llm_usage: kind === 0 || (hostile && r() < 0.1) ? { provider: 'openai', model: text(r, hostile), input_tokens: Math.floor(r() * 1e6), output_tokens: big ? 2 ** 50 : Math.floor(r() * 1e5), cached_input_tokens: Math.floor(r() * 100) } : null,
    compute_usage: kind === 1 ? { resource_type: 'kubernetes', cpu_cores: BigInt(Math.floor(r() * 4e6)) * (hostile && r() < 0.1 ? -1n : 1n), memory_gb: big ? 10n ** 17n : BigInt(Math.floor(r() * 8e6)), duration_ms: Math.floor(r() * 3.6e6) } : null,
    vector_db_usage: kind === 2 ? { provider: 'generic', operation: hostile ? text(r, true) : 'query', units: Math.floor(r() * 50) } : null,
    price: { source: text(r, hostile), version: text(r, hostile), status: pick(r, ['priced', 'priced', 'unknown_model', 'unpriced'] as const), unit_prices: map(r, hostile, true) },
    metadata: r() < 0.5 ? {} : map(r, hostile, false),
  };
}

const framed = (body: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0, 7]), body]);

/** What the general path (avsc, validation, ledgerRow) makes of a message: a row, or null if it refuses it. */
function general(value: Buffer, partition: number, offset: string, key: Buffer | null = null, publishedAt = 0): LedgerRow | null {
  let e: CostEvent;
  try {
    e = type.fromBuffer(value.subarray(5)) as CostEvent;
    validateCostEvent(e, LIMITS);
  } catch {
    return null;
  }
  return ledgerRow({ event: e, partition, offset, key, value }, publishedAt);
}

function expectSameRow(fast: LedgerRow, slow: LedgerRow | null, what: string): void {
  if (slow === null) throw new Error(`${what}: the reader took a message the general path refuses`);
  const plain = (row: LedgerRow) => {
    const { text, lineStart, lineEnd, ...r } = row;
    return {
      ...r, line: text.toString('latin1', lineStart, lineEnd), idLine: text.toString('latin1', lineEnd, lineEnd + ID_TUPLE_BYTES), message: originalMessage(row),
      eventId: rowEventId(row), key: rowKey(row), publishedAt: rowPublishedAt(row),
    };
  };
  expect({ what, ...plain(fast) }).toEqual({ what, ...plain(slow) });
}

describe('LedgerRowReader', () => {
  it('writes the same rows as the general path for ordinary events, and takes nearly all of them', () => {
    const reader = new LedgerRowReader(4096); // small slabs, so rows span many of them
    const r = rng(42);
    let taken = 0;
    const N = 3000;
    for (let i = 0; i < N; i++) {
      const value = framed(type.toBuffer(event(r, false)));
      const key = i % 3 === 0 ? null : Buffer.from(`persona-${i}`);
      const slow = general(value, i % 12, String(1e12 + i), key, 1_764_000_000_000 + i);
      const fast = reader.read(value, i % 12, String(1e12 + i), key, LIMITS, 1_764_000_000_000 + i);
      if (fast) {
        taken++;
        expectSameRow(fast, slow, `ordinary event ${i}`);
      }
    }
    expect(taken / N).toBeGreaterThan(0.95);
  });

  it('reads what the SDK encoder writes', () => {
    const reader = new LedgerRowReader();
    const encoder = new CostEventEncoder();
    const r = rng(7);
    for (let i = 0; i < 500; i++) {
      const value = Buffer.from(encoder.encode(7, event(r, false)));
      const fast = reader.read(value, 3, String(i), null, LIMITS);
      expect(fast).toBeDefined();
      expectSameRow(fast!, general(value, 3, String(i)), `sdk event ${i}`);
    }
  });

  it('never takes what the general path refuses, and agrees on everything it takes', () => {
    const reader = new LedgerRowReader(4096);
    for (let seed = 1; seed <= 40; seed++) {
      const r = rng(seed);
      for (let i = 0; i < 250; i++) {
        let body: Buffer;
        try {
          body = type.toBuffer(event(r, true));
        } catch {
          continue; // a value avsc cannot write (e.g. an amount past the decimal's precision)
        }
        const mutated = Buffer.from(body);
        const how = r();
        let value: Buffer;
        if (how < 0.4) value = framed(mutated);
        else if (how < 0.7) {
          for (let k = 0; k < 1 + Math.floor(r() * 3); k++) mutated[Math.floor(r() * mutated.length)] = Math.floor(r() * 256);
          value = framed(mutated);
        } else if (how < 0.85) value = framed(mutated.subarray(0, Math.floor(r() * mutated.length)));
        else value = framed(Buffer.concat([mutated, Buffer.from([Math.floor(r() * 256)])]));
        const fast = reader.read(value, 1, '5', null, LIMITS);
        if (fast) expectSameRow(fast, general(value, 1, '5'), `seed ${seed} message ${i}`);
      }
    }
  });

  it('decides the amount scale as checkAmountScale does', () => {
    const reader = new LedgerRowReader();
    const base = event(rng(5), false);
    const kinds: Partial<CostEvent>[] = [
      { cost_type: 'openai_api', llm_usage: { provider: 'openai', model: 'gpt-4o', input_tokens: 1200, output_tokens: 340, cached_input_tokens: 200 }, compute_usage: null, vector_db_usage: null,
        price: { source: 's', version: 'v', status: 'priced', unit_prices: { input_mtok: '2.5', output_mtok: '10', cache_read_mtok: '1.25' } } },
      { cost_type: 'openai_api', llm_usage: { provider: 'openai', model: 'gpt-4o', input_tokens: 90, output_tokens: 10, cached_input_tokens: 0 }, compute_usage: null, vector_db_usage: null,
        price: { source: 's', version: 'v', status: 'priced', unit_prices: { input_mtok: '0.15', output_mtok: '0.6' } } },
      { cost_type: 'kubernetes', llm_usage: null, compute_usage: { resource_type: 'k', cpu_cores: 500_000n, memory_gb: 1_250_000n, duration_ms: 61_000 }, vector_db_usage: null,
        price: { source: 's', version: 'v', status: 'priced', unit_prices: { cpu_core_hour: '0.031611', memory_gb_hour: '0.004237' } } },
      { cost_type: 'vector_db', llm_usage: null, compute_usage: null, vector_db_usage: { provider: 'g', operation: 'query', units: 40 },
        price: { source: 's', version: 'v', status: 'priced', unit_prices: { query: '0.000004' } } },
    ];
    let refused = 0;
    let taken = 0;
    for (const kind of kinds.flatMap((k) => [{ ...k, metadata: {} }, { ...k, metadata: { language: 'python' } }])) {
      for (let amount = 1n; amount < 10n ** 12n; amount = (amount * 13n) / 10n + 1n) {
        const value = framed(type.toBuffer({ ...base, ...kind, amount }));
        const slow = general(value, 0, '1');
        const fast = reader.read(value, 0, '1', null, LIMITS);
        if (slow === null) refused++;
        if (fast) {
          taken++;
          expectSameRow(fast, slow, `${kind.cost_type} amount ${amount}`);
        } else expect(slow).toBeNull();
      }
    }
    expect(refused).toBeGreaterThan(20); // the mis-scaled amounts, with and without metadata
    expect(taken).toBeGreaterThan(100);
  });

  it('leaves out-of-range times, long ids, escapes and reordered map keys to the general path', () => {
    const reader = new LedgerRowReader();
    const base = event(rng(3), false);
    const cases: Partial<CostEvent>[] = [
      { event_time: new Date(NOW + 2 * 86_400_000) },
      { persona_id: 'x'.repeat(256) },
      { service: 'back\\slash' },
      { metadata: { b: '1', '2': 'x' } },
      { metadata: { big: 'x'.repeat(300) } },
      { currency: 'EUR' },
      { persona_id: 'café' },
    ];
    for (const patch of cases) {
      const value = framed(type.toBuffer({ ...base, ...patch }));
      expect(reader.read(value, 0, '1', null, LIMITS)).toBeUndefined();
    }
    expect(reader.read(framed(type.toBuffer(base)), 0, '1', null, LIMITS)).toBeDefined();
  });
});
