import type { ValidationLimits } from '../../src/events';
import type { CostEvent } from '../../src/events';
import { checkAmountScale } from '../../src/events/amount-scale';
import { eventKey, md5 } from './event-key';
import type { LedgerRow } from './ledger-batch';
import { md5Prefix, MD5_PADDING_ROOM } from './md5-prefix';
import { ID_TUPLE_BYTES, writeIdTuple, writeIdTupleOfBytes } from './id-copy';
import { StringTable } from './string-table';

/**
 * Reads the Avro body of a cost event written with the reader's own schema (schemas/cost-event.avsc,
 * field for field) straight into its ledger row: the COPY line and the id line are written byte by
 * byte from the message into a shared slab, and only the strings the rollups need (persona, post,
 * model, vector operation) become JS strings that the row keeps. It replaces, for nearly every message, avsc's
 * object graph, validateCostEvent, copyLine and the encoding of the line, which were about a third
 * of the storage consumer's CPU and most of what it allocated.
 *
 * It accepts only what the general path (avsc, validateCostEvent, ledgerRow) accepts and writes the
 * same bytes; anything else — a value validation refuses, a byte that would need escaping or is not
 * ASCII, a map key JSON would reorder, a number past 2^48 — returns undefined, and the caller takes
 * the general path, which decodes, validates and dead-letters as before. The unit tests compare
 * the two on random and hostile events.
 */
export class LedgerRowReader {
  private src: Buffer = Buffer.alloc(0);
  private p = 0;
  private end = 0;
  private out: Buffer;
  private q = 0;
  /** Byte ranges in the message of the maps' keys and values (the unit prices', then the metadata's): key start, key end, value start, value end. */
  private readonly entries = new Int32Array(4 * MAX_MAP_ENTRIES);
  private entryCount = 0;
  /** How many entries of `entries` are the unit prices (the first map of the message). */
  private priceCount = 0;
  /** Unit price text → its value as a double, NaN when it is not a plain decimal. */
  private readonly priceValues = new Map<string, number>();
  /** Personas, models and vector operations, which recur: one string each rather than one per row. */
  private readonly shared = new StringTable();
  /** Where the fingerprint's input is assembled before hashing. */
  private readonly scratch = Buffer.allocUnsafeSlow(4096);

  constructor(private readonly slabBytes = 1 << 20) {
    this.out = Buffer.allocUnsafeSlow(slabBytes);
  }

  /**
   * The row of the Confluent-framed `value` (body from byte 5), or undefined when the general path
   * must read it. `limits` are validateCostEvent's.
   */
  read(value: Buffer, partition: number, offset: string, key: Buffer | null, limits: ValidationLimits, publishedAt = 0): LedgerRow | undefined {
    const bodyBytes = value.length - 5;
    // A line is at most ~12 bytes per body byte (a 1-byte null becomes "\N", a 1-byte number a
    // long decimal) plus the fixed columns, then the message itself and its publish time; a slab
    // too small for that is left for a fresh one.
    const need = 13 * bodyBytes + (key ? key.length : 0) + 520;
    if (this.out.length - this.q < need) {
      this.out = Buffer.allocUnsafeSlow(Math.max(this.slabBytes, need));
      this.q = 0;
    }
    const lineStart = this.q;
    this.src = value;
    this.p = 5;
    this.end = value.length;
    try {
      return this.row(value, partition, offset, key, limits, lineStart, publishedAt);
    } catch (err) {
      if (err !== GENERAL_PATH) throw err;
      this.q = lineStart;
      return undefined;
    } finally {
      this.src = EMPTY;
    }
  }

  private row(value: Buffer, partition: number, offset: string, key: Buffer | null, limits: ValidationLimits, lineStart: number, publishedAt: number): LedgerRow {
    const src = this.src;
    const idAt = this.copyId(true);
    const idEnd = this.p;
    // A canonical UUID is its own key (event-key.ts), checked on the bytes rather than by a regex.
    const idIsUuid = idEnd - idAt === 36 && isCanonicalUuid(src, idAt);
    this.tab();
    // event_time
    const ms = this.long();
    if (ms > limits.now + limits.maxFutureSkewMs || ms < limits.now - limits.maxPastAgeMs || ms < 0 || ms >= MAX_FOUR_DIGIT_YEAR_MS) throw GENERAL_PATH;
    this.isoTime(ms);
    this.tab();
    // cost_type
    const costType = COST_TYPES[this.long()];
    if (costType === undefined) throw GENERAL_PATH;
    this.ascii(costType);
    this.tab();
    // amount: decimal(20, 9) in bytes
    const amountNano = this.decimal();
    if (amountNano < 0) throw GENERAL_PATH;
    this.fixed(amountNano, 1e9, 9);
    this.tab();
    // currency
    const curLen = this.long();
    if (curLen !== 3 || this.p + 3 > this.end || src[this.p] !== 0x55 || src[this.p + 1] !== 0x53 || src[this.p + 2] !== 0x44) throw GENERAL_PATH; // "USD"
    this.p += 3;
    this.ascii('USD');
    this.tab();
    const personaIdAt = this.copyId(true);
    const personaIdEnd = this.p;
    const personaId = this.shared.get(src, personaIdAt, personaIdEnd);
    this.tab();
    const postId = this.union() ? this.idString(false) : this.nullField();
    const postIdEnd = postId === null ? 0 : this.p;
    const postIdAt = postId === null ? 0 : postIdEnd - postId.length;
    this.tab();
    for (let i = 0; i < 4; i++) {
      // operation, service, correlation_id, request_id
      if (this.union()) this.copyId(false);
      else this.nul();
      this.tab();
    }
    // llm_usage
    let model = '';
    let llmIn = -1;
    let llmOut = 0;
    let llmCached = 0;
    const hasLlm = this.union();
    if (hasLlm) {
      this.skipString(); // provider: not stored
      model = this.shared.get(src, this.copyId(true), this.p);
      this.tab();
      llmIn = this.count();
      llmOut = this.count();
      llmCached = this.count();
      this.uint(llmIn);
      this.tab();
      this.uint(llmOut);
      this.tab();
      this.uint(llmCached);
      this.tab();
    } else {
      this.nulls(4);
    }
    // compute_usage
    let cpu = -1;
    let memory = 0;
    let durationMs = 0;
    if (this.union()) {
      this.skipString(); // resource_type: not stored
      cpu = this.decimal();
      memory = this.decimal();
      if (cpu < 0 || memory < 0) throw GENERAL_PATH;
      durationMs = this.count();
      this.fixed(cpu, 1e6, 6);
      this.tab();
      this.fixed(memory, 1e6, 6);
      this.tab();
      this.uint(durationMs);
      this.tab();
    } else {
      this.nulls(3);
    }
    // vector_db_usage
    let vectorOperation: string | null = null;
    let vectorUnits = 0;
    if (this.union()) {
      this.skipString(); // provider: not stored
      vectorOperation = this.shared.get(src, this.copyId(false, false), this.p);
      vectorUnits = this.count();
      this.tab();
      this.uint(vectorUnits);
      this.tab();
    } else {
      this.nulls(2);
    }
    // price
    this.copyText();
    this.tab();
    this.copyText();
    this.tab();
    const status = PRICE_STATUSES[this.long()];
    if (status === undefined) throw GENERAL_PATH;
    this.ascii(status);
    this.tab();
    const checkScale = status === 'priced' && amountNano > 0;
    this.entryCount = 0;
    this.jsonMap();
    this.priceCount = this.entryCount;
    this.tab();
    // metadata: its entries follow the unit prices' in `entries`, which the scale check reads below
    const metadataStart = this.q;
    this.jsonMap();
    if (this.q - metadataStart > limits.maxMetadataBytes) throw GENERAL_PATH;
    if (this.p !== this.end) throw GENERAL_PATH; // trailing bytes: avsc refuses them
    this.tab();
    this.uint(partition);
    this.tab();
    this.ascii(offset);
    this.byte(0x0a);
    const lineEnd = this.q;

    const amount = BigInt(amountNano);
    if (checkScale && this.priceCount > 0) {
      const expected = this.expectedNano(hasLlm, llmIn, llmOut, llmCached, cpu, memory, durationMs, vectorOperation, vectorUnits);
      // Surely accepted by checkAmountScale: expected below its 1,000 nano floor, or the amount within
      // 0.9 % of it (it tolerates 1 %; the margin covers the double's rounding). Else its exact check.
      if (!(expected < 999.5 || (expected >= 2000 && Math.abs(amountNano - expected) <= 0.009 * expected))) {
        this.checkScale(amount, status, model, llmIn, llmOut, llmCached, hasLlm, cpu, memory, durationMs, vectorOperation, vectorUnits);
      }
    }
    // The cost_event_ids tuple (id-copy.ts): key, event time, fingerprint.
    const fingerprintAt = idIsUuid ? writeIdTupleOfBytes(this.out, lineEnd, src, idAt, ms) : writeIdTuple(this.out, lineEnd, eventKey(latin1(src, idAt, idEnd)), ms);
    this.fingerprint(costType, amountNano, personaIdAt, personaIdEnd, postIdAt, postIdEnd, fingerprintAt);
    this.q = lineEnd + ID_TUPLE_BYTES;
    // The message as it came, for a dead letter should Postgres refuse the row.
    if (key) this.q = copyBytes(key, 0, key.length, this.out, this.q);
    this.q = copyBytes(value, 0, value.length, this.out, this.q);
    this.out.writeDoubleLE(publishedAt, this.q);
    this.q += 8;
    return {
      text: this.out,
      lineStart,
      lineEnd,
      keyLength: key ? key.length : -1,
      valueLength: value.length,
      dayNumber: Math.floor(ms / 86_400_000),
      personaId,
      postId,
      costType,
      model,
      vectorOperation,
      amount,
      partition,
      offset,
    };
  }

  /** As checkAmountScale on the decoded event; its rare refusal sends the message down the general path. */
  private checkScale(amount: bigint, status: string, model: string, llmIn: number, llmOut: number, llmCached: number, hasLlm: boolean,
    cpu: number, memory: number, durationMs: number, vectorOperation: string | null, vectorUnits: number): void {
    const unitPrices: Record<string, string> = {};
    const x = this.entries;
    for (let i = 0; i < this.priceCount; i++) unitPrices[latin1(this.src, x[4 * i], x[4 * i + 1])] = latin1(this.src, x[4 * i + 2], x[4 * i + 3]);
    const e = {
      amount,
      price: { status, unit_prices: unitPrices },
      llm_usage: hasLlm ? { model, input_tokens: llmIn, output_tokens: llmOut, cached_input_tokens: llmCached } : null,
      compute_usage: cpu >= 0 ? { cpu_cores: BigInt(cpu), memory_gb: BigInt(memory), duration_ms: durationMs } : null,
      vector_db_usage: vectorOperation !== null ? { operation: vectorOperation, units: vectorUnits } : null,
    } as unknown as CostEvent;
    try {
      checkAmountScale(e);
    } catch {
      throw GENERAL_PATH;
    }
  }

  /**
   * expectedNanoUsd (src/events/amount-scale.ts) in doubles, from the unit prices of the message; NaN
   * when a price it needs is missing or not a plain decimal (the exact check then decides).
   */
  private expectedNano(hasLlm: boolean, llmIn: number, llmOut: number, llmCached: number, cpu: number, memory: number, durationMs: number,
    vectorOperation: string | null, vectorUnits: number): number {
    if (hasLlm) {
      const input = this.price('input_mtok');
      const output = this.price('output_mtok');
      const cacheRead = this.price('cache_read_mtok');
      if (cacheRead === undefined) return (llmIn * input! + llmOut * output!) * 1000;
      const cached = Math.min(llmCached, llmIn);
      return ((llmIn - cached) * input! + llmOut * output! + cached * cacheRead) * 1000;
    }
    if (cpu >= 0) return (cpu * durationMs * this.price('cpu_core_hour')! + memory * durationMs * this.price('memory_gb_hour')!) / 3600;
    if (vectorOperation !== null) return vectorUnits * this.price(vectorOperation)! * 1e9;
    return NaN;
  }

  /** A unit price of the message as a double: undefined when absent, NaN when not a plain decimal. */
  private price(name: string): number | undefined {
    const x = this.entries;
    const src = this.src;
    for (let i = 0; i < this.priceCount; i++) {
      const start = x[4 * i];
      const end = x[4 * i + 1];
      if (end - start !== name.length) continue;
      let same = true;
      for (let k = 0; k < name.length; k++) {
        if (src[start + k] !== name.charCodeAt(k)) {
          same = false;
          break;
        }
      }
      if (!same) continue;
      const text = latin1(src, x[4 * i + 2], x[4 * i + 3]);
      let value = this.priceValues.get(text);
      if (value === undefined) {
        value = PLAIN_DECIMAL.test(text) ? Number(text) : NaN;
        if (this.priceValues.size >= 10_000) this.priceValues.clear();
        this.priceValues.set(text, value);
      }
      return value;
    }
    return undefined;
  }

  /** fingerprintOf's 8 bytes, written to the slab at `at`, hashed from the message's bytes of persona and post rather than a joined string. */
  private fingerprint(costType: string, amountNano: number, personaAt: number, personaEnd: number, postAt: number, postEnd: number, at: number): void {
    // Assembled in the scratch buffer with the line's writers, then the slab is put back.
    const slab = this.out;
    const q = this.q;
    this.out = this.scratch;
    this.q = 0;
    this.ascii(costType);
    this.byte(0x1f);
    this.uint(amountNano);
    this.byte(0x1f);
    this.q = copyBytes(this.src, personaAt, personaEnd, this.scratch, this.q);
    this.byte(0x1f);
    this.q = copyBytes(this.src, postAt, postEnd, this.scratch, this.q);
    const length = this.q;
    this.out = slab;
    this.q = q;
    if (length + MD5_PADDING_ROOM <= this.scratch.length) md5Prefix(this.scratch, length, slab, at);
    else md5(this.scratch.subarray(0, length)).copy(slab, at, 0, 8);
  }

  // ---- Avro primitives ----

  /** A zigzag varint long, exact below 2^48 in magnitude (larger ones go the general path). */
  private long(): number {
    const src = this.src;
    let p = this.p;
    if (p >= this.end) throw GENERAL_PATH;
    let b = src[p++];
    let n = b & 0x7f;
    let mul = 128;
    while (b & 0x80) {
      if (p >= this.end || mul > 2 ** 42) throw GENERAL_PATH;
      b = src[p++];
      n += (b & 0x7f) * mul;
      mul *= 128;
    }
    this.p = p;
    return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
  }

  /** A long that validation requires to be a non-negative safe integer. */
  private count(): number {
    const n = this.long();
    if (n < 0) throw GENERAL_PATH;
    return n;
  }

  /** A two-arm union's branch: false for null (index 0), true for the value (index 1). */
  private union(): boolean {
    const i = this.long();
    if (i === 0) return false;
    if (i === 1) return true;
    throw GENERAL_PATH;
  }

  /** A bytes decimal's unscaled value, up to 6 bytes (exact as a double; larger ones go the general path). */
  private decimal(): number {
    const len = this.long();
    if (len < 0 || len > 6 || this.p + len > this.end) throw GENERAL_PATH;
    if (len === 0) return 0;
    const v = this.src.readIntBE(this.p, len);
    this.p += len;
    return v;
  }

  /** Length and start of a string's bytes; advances past them. */
  private stringBytes(): number {
    const len = this.long();
    if (len < 0 || this.p + len > this.end) throw GENERAL_PATH;
    const start = this.p;
    this.p += len;
    return start;
  }

  private skipString(): void {
    this.stringBytes();
  }

  /**
   * An id (validateCostEvent's checkId: 1–255 characters, no control characters) copied into the
   * line and returned as a string; `required` refuses the empty string. Only printable ASCII
   * without a backslash is taken here, so the bytes are the COPY text as they are.
   */
  private idString(required: boolean, checked = true): string {
    const start = this.copyId(required, checked);
    return latin1(this.src, start, this.p);
  }

  /** Copies a string's bytes into the line (see idString); returns where they start in the message. */
  private copyId(required: boolean, checked = true): number {
    const len = this.long();
    if (len < 0 || this.p + len > this.end || (required && len === 0) || (checked && len > MAX_ID_LENGTH)) throw GENERAL_PATH;
    const src = this.src;
    const out = this.out;
    let q = this.q;
    const end = this.p + len;
    for (let p = this.p; p < end; p++) {
      const b = src[p];
      if (b < 0x20 || b > 0x7e || b === 0x5c) throw GENERAL_PATH;
      out[q++] = b;
    }
    const start = this.p;
    this.p = end;
    this.q = q;
    return start;
  }

  /** A text field the general path passes through copyText (no validation): printable ASCII without a backslash. */
  private copyText(): void {
    this.copyId(false, false);
  }

  /** An Avro map of strings as JSON.stringify writes it; its entries' byte ranges are appended to `entries`. */
  private jsonMap(): void {
    const first = this.entryCount;
    this.byte(0x7b); // {
    for (;;) {
      let count = this.long();
      if (count === 0) break;
      if (count < 0) {
        count = -count;
        this.long(); // the block's size in bytes
      }
      for (let i = 0; i < count; i++) {
        if (this.entryCount > first) this.byte(0x2c); // ,
        const keyStart = this.stringBytes();
        const keyEnd = this.p;
        this.checkKey(keyStart, keyEnd, first);
        this.byte(0x22);
        this.jsonBytes(keyStart, keyEnd);
        this.byte(0x22);
        this.byte(0x3a);
        this.byte(0x22);
        const valueStart = this.stringBytes();
        this.jsonBytes(valueStart, this.p);
        this.byte(0x22);
        const at = 4 * this.entryCount++;
        this.entries[at] = keyStart;
        this.entries[at + 1] = keyEnd;
        this.entries[at + 2] = valueStart;
        this.entries[at + 3] = this.p;
      }
    }
    this.byte(0x7d); // }
  }

  /**
   * Keys the general path's object would not keep in arrival order are left to it: integer-like
   * keys (JSON.stringify writes them first), "__proto__" (not an own property), repeats (the last
   * value wins at the first one's place), and more keys than the repeat check is meant for.
   */
  private checkKey(start: number, end: number, first: number): void {
    const src = this.src;
    if (end > start && src[start] >= 0x30 && src[start] <= 0x39) throw GENERAL_PATH;
    if (end - start === 9 && latin1(src, start, end) === '__proto__') throw GENERAL_PATH;
    const n = this.entryCount;
    if (n >= MAX_MAP_ENTRIES) throw GENERAL_PATH; // both maps together
    const x = this.entries;
    for (let i = first; i < n; i++) {
      const s = x[4 * i];
      const e = x[4 * i + 1];
      if (e - s === end - start && src.compare(src, start, end, s, e) === 0) throw GENERAL_PATH;
    }
  }

  /** String bytes inside a JSON string inside COPY text: printable ASCII other than quote and backslash need no escape in either. */
  private jsonBytes(start: number, end: number): void {
    const src = this.src;
    const out = this.out;
    let q = this.q;
    for (let p = start; p < end; p++) {
      const b = src[p];
      if (b < 0x20 || b > 0x7e || b === 0x5c || b === 0x22) throw GENERAL_PATH;
      out[q++] = b;
    }
    this.q = q;
  }

  // ---- COPY text output ----

  private byte(b: number): void {
    this.out[this.q++] = b;
  }

  private tab(): void {
    this.out[this.q++] = 0x09;
  }

  private nul(): void {
    this.out[this.q++] = 0x5c; // \N
    this.out[this.q++] = 0x4e;
  }

  private nullField(): null {
    this.nul();
    return null;
  }

  /** `n` NULL columns, each followed by a tab. */
  private nulls(n: number): void {
    for (let i = 0; i < n; i++) {
      this.nul();
      this.tab();
    }
  }

  private ascii(text: string): void {
    const out = this.out;
    let q = this.q;
    for (let i = 0; i < text.length; i++) out[q++] = text.charCodeAt(i);
    this.q = q;
  }

  /** A non-negative safe integer in decimal. */
  private uint(n: number): void {
    let digits = 1;
    for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
    let q = this.q + digits;
    this.q = q;
    const out = this.out;
    do {
      const next = Math.floor(n / 10);
      out[--q] = 0x30 + (n - next * 10);
      n = next;
    } while (n > 0);
  }

  /** `units` (non-negative) at `digits` decimal places, as formatFixed writes it. */
  private fixed(units: number, scale: number, digits: number): void {
    const whole = Math.floor(units / scale);
    let frac = units - whole * scale;
    this.uint(whole);
    this.byte(0x2e);
    const out = this.out;
    let q = this.q + digits;
    this.q = q;
    for (let i = 0; i < digits; i++) {
      const next = Math.floor(frac / 10);
      out[--q] = 0x30 + (frac - next * 10);
      frac = next;
    }
  }

  /** `ms` since the epoch as Date.prototype.toISOString writes it (years 1970–9999). */
  private isoTime(ms: number): void {
    const days = Math.floor(ms / 86_400_000);
    let rest = ms - days * 86_400_000;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    const z = days + 719_468;
    const era = Math.floor(z / 146_097);
    const doe = z - era * 146_097;
    const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
    const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
    const mp = Math.floor((5 * doy + 2) / 153);
    const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
    const month = mp < 10 ? mp + 3 : mp - 9;
    const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    const hour = Math.floor(rest / 3_600_000);
    rest -= hour * 3_600_000;
    const minute = Math.floor(rest / 60_000);
    rest -= minute * 60_000;
    const second = Math.floor(rest / 1000);
    const milli = rest - second * 1000;
    this.pad(year, 4);
    this.byte(0x2d);
    this.pad(month, 2);
    this.byte(0x2d);
    this.pad(day, 2);
    this.byte(0x54);
    this.pad(hour, 2);
    this.byte(0x3a);
    this.pad(minute, 2);
    this.byte(0x3a);
    this.pad(second, 2);
    this.byte(0x2e);
    this.pad(milli, 3);
    this.byte(0x5a);
  }

  private pad(n: number, width: number): void {
    const out = this.out;
    let q = this.q + width;
    this.q = q;
    for (let i = 0; i < width; i++) {
      const next = Math.floor(n / 10);
      out[--q] = 0x30 + (n - next * 10);
      n = next;
    }
  }
}

/** Thrown inside the reader to hand a message to the general path; never escapes read(). */
const GENERAL_PATH = Symbol('general path');
const EMPTY = Buffer.alloc(0);
const MAX_ID_LENGTH = 255;
const MAX_MAP_ENTRIES = 64;
const PLAIN_DECIMAL = /^[0-9]+(\.[0-9]+)?$/;
/** 10000-01-01T00:00:00Z: toISOString writes a six-digit year from there. */
const MAX_FOUR_DIGIT_YEAR_MS = 253_402_300_800_000;
const COST_TYPES = ['openai_api', 'kubernetes', 'vector_db', 'other'] as const;
const PRICE_STATUSES = ['priced', 'unknown_model', 'unpriced'] as const;

const latin1 = (buf: Buffer, start: number, end: number): string => (buf as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(start, end);

/** Whether the 36 bytes at `at` are a canonical lower-case UUID: hex digits with hyphens at 8, 13, 18 and 23. */
function isCanonicalUuid(buf: Buffer, at: number): boolean {
  for (let i = 0; i < 36; i++) {
    const b = buf[at + i];
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (b !== 0x2d) return false;
    } else if (!((b >= 0x30 && b <= 0x39) || (b >= 0x61 && b <= 0x66))) return false;
  }
  return true;
}

/**
 * Copies from[start, end) to `to` at `at` and returns the end of the copy. A loop for the short
 * fields of a row (ids, a timestamp), where Buffer.copy's call into C++ costs more than the bytes;
 * Buffer.copy beyond that.
 */
function copyBytes(from: Buffer, start: number, end: number, to: Buffer, at: number): number {
  const n = end - start;
  if (n > 64) return at + from.copy(to, at, start, end);
  for (let i = 0; i < n; i++) to[at + i] = from[start + i];
  return at + n;
}
