import type { CostEvent, PriceApplied } from '../events/cost-event';

const COST_TYPES: Record<string, number> = { openai_api: 0, kubernetes: 1, vector_db: 2, other: 3 };
const PRICE_STATUSES: Record<string, number> = { priced: 0, unknown_model: 1, unpriced: 2 };
const AMOUNT_LIMIT = 10n ** 20n; // decimal(20, 9)
const MICRO_LIMIT = 10n ** 18n; // decimal(18, 6)
const SMALL_DECIMAL = 1n << 47n; // fits a float exactly with room for the two's complement arithmetic
// Negated once here: a negation per call is a new BigInt per call.
const NEGATIVE_AMOUNT_LIMIT = -AMOUNT_LIMIT;
const NEGATIVE_MICRO_LIMIT = -MICRO_LIMIT;
const NEGATIVE_SMALL_DECIMAL = -SMALL_DECIMAL;

/**
 * The cost-event schema (schemas/cost-event.avsc) written by hand, framed in the Confluent wire
 * format. It writes exactly the bytes avsc writes for the same schema (tests/unit/cost-event-encoder.test.ts)
 * without avsc's per-call intermediate buffers and BigInt byte loops, and writes the price
 * record of a frozen price (the price book's, shared by every event priced alike) from bytes
 * computed once. Invalid values throw, as avsc's writer does. One encoder per producer; not re-entrant.
 */
const SLAB_BYTES = 64 * 1024;

export class CostEventEncoder {
  /** Events are written one after another into a slab and handed out as views of it (no copy). */
  private buf = Buffer.allocUnsafe(SLAB_BYTES);
  private start = 0;
  private pos = 0;
  private readonly priceBytes = new WeakMap<PriceApplied, Buffer>();

  encode(schemaId: number, e: CostEvent): Buffer {
    this.pos = this.start;
    try {
      this.writeEvent(schemaId, e);
    } catch (err) {
      this.pos = this.start;
      throw err;
    }
    const out = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    return out;
  }

  private writeEvent(schemaId: number, e: CostEvent): void {
    this.ensure(5);
    const buf = this.buf;
    buf[this.pos] = 0;
    buf[this.pos + 1] = schemaId >>> 24;
    buf[this.pos + 2] = (schemaId >>> 16) & 0xff;
    buf[this.pos + 3] = (schemaId >>> 8) & 0xff;
    buf[this.pos + 4] = schemaId & 0xff;
    this.pos += 5;
    this.writeString(e.event_id, 'event_id');
    const time = e.event_time instanceof Date ? e.event_time.getTime() : (e.event_time as unknown as number);
    this.writeLong(time, 'event_time');
    this.writeEnum(COST_TYPES, e.cost_type, 'cost_type');
    this.writeDecimal(e.amount, AMOUNT_LIMIT, NEGATIVE_AMOUNT_LIMIT, 'amount');
    this.writeString(e.currency, 'currency');
    this.writeString(e.persona_id, 'persona_id');
    this.writeOptionalString(e.post_id, 'post_id');
    this.writeOptionalString(e.operation, 'operation');
    this.writeOptionalString(e.service, 'service');
    this.writeOptionalString(e.correlation_id, 'correlation_id');
    this.writeOptionalString(e.request_id, 'request_id');
    const llm = e.llm_usage;
    if (llm == null) this.writeByte(0);
    else {
      this.writeByte(2);
      this.writeString(llm.provider, 'llm_usage.provider');
      this.writeString(llm.model, 'llm_usage.model');
      this.writeLong(llm.input_tokens, 'llm_usage.input_tokens');
      this.writeLong(llm.output_tokens, 'llm_usage.output_tokens');
      this.writeLong(llm.cached_input_tokens, 'llm_usage.cached_input_tokens');
    }
    const compute = e.compute_usage;
    if (compute == null) this.writeByte(0);
    else {
      this.writeByte(2);
      this.writeString(compute.resource_type, 'compute_usage.resource_type');
      this.writeDecimal(compute.cpu_cores, MICRO_LIMIT, NEGATIVE_MICRO_LIMIT, 'compute_usage.cpu_cores');
      this.writeDecimal(compute.memory_gb, MICRO_LIMIT, NEGATIVE_MICRO_LIMIT, 'compute_usage.memory_gb');
      this.writeLong(compute.duration_ms, 'compute_usage.duration_ms');
    }
    const vector = e.vector_db_usage;
    if (vector == null) this.writeByte(0);
    else {
      this.writeByte(2);
      this.writeString(vector.provider, 'vector_db_usage.provider');
      this.writeString(vector.operation, 'vector_db_usage.operation');
      this.writeLong(vector.units, 'vector_db_usage.units');
    }
    this.writePrice(e.price);
    this.writeMap(e.metadata, 'metadata');
  }

  private writePrice(price: PriceApplied): void {
    if (price === null || typeof price !== 'object') throw new TypeError(`price must be a record, got ${price}`);
    const frozen = Object.isFrozen(price) && Object.isFrozen(price.unit_prices);
    const cached = frozen ? this.priceBytes.get(price) : undefined;
    if (cached) {
      const n = cached.length;
      this.ensure(n);
      const buf = this.buf;
      for (let i = 0; i < n; i++) buf[this.pos + i] = cached[i];
      this.pos += n;
      return;
    }
    const from = this.pos - this.start; // relative: the event may move to a new slab meanwhile
    this.writeString(price.source, 'price.source');
    this.writeString(price.version, 'price.version');
    this.writeEnum(PRICE_STATUSES, price.status, 'price.status');
    this.writeMap(price.unit_prices, 'price.unit_prices');
    if (frozen) this.priceBytes.set(price, Buffer.from(this.buf.subarray(this.start + from, this.pos)));
  }

  /** Room for `bytes` more; a full slab is left to the events already handed out, the current one moves to a new slab. */
  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const written = this.pos - this.start;
    const slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, 2 * (written + bytes)));
    this.buf.copy(slab, 0, this.start, this.pos);
    this.buf = slab;
    this.start = 0;
    this.pos = written;
  }

  private writeByte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Zig-zag varint, as Avro's long. */
  private writeLong(n: number, field: string): void {
    // avsc's range for a long held in a JS number
    if (typeof n !== 'number' || n % 1 !== 0 || n < -9007199254740990 || n > 9007199254740990) throw new TypeError(`${field} must be an integer within ±(2^53 − 2), got ${n}`);
    this.ensure(10);
    const buf = this.buf;
    if (n >= -0x40000000 && n < 0x40000000) {
      let z = ((n << 1) ^ (n >> 31)) >>> 0;
      while (z > 0x7f) {
        buf[this.pos++] = (z & 0x7f) | 0x80;
        z >>>= 7;
      }
      buf[this.pos++] = z;
      return;
    }
    // as avsc does it, so the rare value beyond 2^52 rounds the same way
    let f = n >= 0 ? n * 2 : -n * 2 - 1;
    do {
      buf[this.pos] = f & 0x7f;
      f /= 128;
    } while (f >= 1 && (buf[this.pos++] |= 0x80));
    this.pos++;
  }

  private writeString(s: string, field: string): void {
    if (typeof s !== 'string') throw new TypeError(`${field} must be a string, got ${s === null ? 'null' : typeof s}`);
    const len = s.length;
    if (len < 64) {
      this.ensure(len + 1);
      const buf = this.buf;
      const start = this.pos + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        buf[start + i] = c;
      }
      if (i === len) {
        buf[this.pos] = len << 1;
        this.pos = start + len;
        return;
      }
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    this.writeLong(bytes, field);
    this.ensure(bytes);
    this.pos += this.buf.write(s, this.pos, bytes, 'utf8');
  }

  private writeOptionalString(s: string | null | undefined, field: string): void {
    if (s == null) this.writeByte(0);
    else {
      this.writeByte(2);
      this.writeString(s, field);
    }
  }

  private writeEnum(symbols: Record<string, number>, value: string, field: string): void {
    const index = Object.prototype.hasOwnProperty.call(symbols, value) ? symbols[value] : undefined;
    if (index === undefined) throw new TypeError(`${field} ${JSON.stringify(value)} is not one of ${Object.keys(symbols).join(', ')}`);
    this.writeByte(index << 1);
  }

  private writeMap(map: Record<string, string>, field: string): void {
    if (map === null || typeof map !== 'object' || Array.isArray(map)) throw new TypeError(`${field} must be a map of strings`);
    const keys = Object.keys(map);
    if (keys.length > 0) {
      this.writeLong(keys.length, field);
      for (const key of keys) {
        this.writeString(key, field);
        this.writeString(map[key], `${field}.${key}`);
      }
    }
    this.writeByte(0);
  }

  /** Avro decimal on bytes: the unscaled value in minimal big-endian two's complement. */
  private writeDecimal(v: bigint, limit: bigint, negativeLimit: bigint, field: string): void {
    if (typeof v !== 'bigint') throw new TypeError(`decimal value must be a bigint of unscaled units, got ${typeof v} for ${field}`);
    if (v >= limit || v <= negativeLimit) throw new RangeError(`decimal ${v} exceeds the precision of ${field}`);
    if (v < SMALL_DECIMAL && v >= NEGATIVE_SMALL_DECIMAL) {
      const n = Number(v);
      let k = 1;
      let bound = 128;
      while (n >= bound || n < -bound) {
        k++;
        bound *= 256;
      }
      this.ensure(k + 1);
      const buf = this.buf;
      buf[this.pos++] = k << 1;
      let u = n < 0 ? n + bound * 2 : n;
      for (let i = k - 1; i >= 0; i--) {
        buf[this.pos + i] = u % 256;
        u = Math.floor(u / 256);
      }
      this.pos += k;
      return;
    }
    const bytes: number[] = [];
    let rest = v;
    do {
      bytes.unshift(Number(rest & 0xffn));
      rest >>= 8n;
    } while (!(rest === 0n && (bytes[0] & 0x80) === 0) && !(rest === -1n && (bytes[0] & 0x80) !== 0));
    this.writeLong(bytes.length, field);
    this.ensure(bytes.length);
    for (const b of bytes) this.buf[this.pos++] = b;
  }
}
