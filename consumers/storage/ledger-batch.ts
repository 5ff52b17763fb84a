import { formatUsd } from '../../src/money';
import type { PostCostDelta } from '../../src/contracts/storage';
import { copyLine, type StoredEvent } from './copy-rows';
import { eventFingerprint, eventKey } from './event-key';
import { copyField } from './copy-rows';
import { ID_COPY_HEADER, ID_COPY_TRAILER, ID_TUPLE_BYTES, tupleEventTime, tupleFingerprint, tupleKey, writeIdTuple } from './id-copy';

/**
 * What the writer needs of one event, taken from it as soon as it is decoded: its COPY line, its id
 * tuple (key, event time, content fingerprint: event-key.ts), the message as it came, and the few
 * fields the rollups read. The decoded event itself is dropped then, so a batch waiting for Postgres
 * holds flat strings, not object graphs the collector has to trace and promote.
 */
export interface LedgerRow {
  /**
   * Where the row's bytes live, outside the JS heap (so the collector does not copy them while the
   * row waits): the cost_events line at [lineStart, lineEnd), then the cost_event_ids tuple (id-copy.ts,
   * ID_TUPLE_BYTES), then the Kafka message's key (keyLength bytes; -1 for none) and value
   * (valueLength bytes), then its Kafka timestamp (rowPublishedAt). Rows share slabs (ledger-row-reader.ts), so a row holds no Buffer of its own
   * and keeps no fetched batch alive. The event id and its key are read from there when needed
   * (rowEventId, rowKey): only batches that meet an id twice need them.
   */
  text: Buffer;
  lineStart: number;
  lineEnd: number;
  keyLength: number;
  valueLength: number;
  /** Days since 1970-01-01 (UTC) of the event time. */
  dayNumber: number;
  personaId: string;
  postId: string | null;
  costType: string;
  /** The LLM model, '' for other cost types. */
  model: string;
  /** The vector-DB operation, null for other cost types. */
  vectorOperation: string | null;
  amount: bigint;
  partition: number;
  offset: string;
}

export function ledgerRow(stored: StoredEvent, publishedAt = 0): LedgerRow {
  const e = stored.event;
  const eventTime = e.event_time.toISOString();
  const key = eventKey(e.event_id);
  const line = copyLine(stored, eventTime);
  const lineEnd = Buffer.byteLength(line);
  const kafkaKey = stored.key ?? null;
  const kafkaValue = stored.value ?? null;
  const valueEnd = lineEnd + ID_TUPLE_BYTES + (kafkaKey?.length ?? 0) + (kafkaValue?.length ?? 0);
  const text = Buffer.alloc(valueEnd + 8);
  text.write(line, 0);
  text.writeBigInt64BE(BigInt(eventFingerprint(e)), writeIdTuple(text, lineEnd, key, e.event_time.getTime()));
  const idEnd = lineEnd + ID_TUPLE_BYTES;
  kafkaKey?.copy(text, idEnd);
  kafkaValue?.copy(text, idEnd + (kafkaKey?.length ?? 0));
  text.writeDoubleLE(publishedAt, valueEnd);
  return {
    text,
    lineStart: 0,
    lineEnd,
    keyLength: kafkaKey ? kafkaKey.length : -1,
    valueLength: kafkaValue ? kafkaValue.length : -1,
    dayNumber: Math.floor(e.event_time.getTime() / 86_400_000),
    personaId: e.persona_id,
    postId: e.post_id,
    costType: e.cost_type,
    model: e.llm_usage?.model ?? '',
    vectorOperation: e.vector_db_usage?.operation ?? null,
    amount: e.amount,
    partition: stored.partition,
    offset: stored.offset,
  };
}

/** The content fingerprint of a row (event-key.ts), from its id tuple: needed only for ids met before. */
export const rowFingerprint = (r: LedgerRow): string => tupleFingerprint(r.text, r.lineEnd);

/** The row's event time in ISO 8601, from its id tuple. */
export const rowEventTime = (r: LedgerRow): string => tupleEventTime(r.text, r.lineEnd);

/** The row's key in cost_event_ids (event-key.ts) as Postgres prints a uuid, from its id tuple. */
export const rowKey = (r: LedgerRow): string => tupleKey(r.text, r.lineEnd);

/** The row's event id, from the first column of its COPY line. */
export const rowEventId = (r: LedgerRow): string => copyField(r.text, r.lineStart, r.lineEnd);

/** The message's Kafka timestamp (ms), 0 if unknown: for the publish-to-stored latency. */
export const rowPublishedAt = (r: LedgerRow): number =>
  r.text.readDoubleLE(r.lineEnd + ID_TUPLE_BYTES + Math.max(0, r.keyLength) + Math.max(0, r.valueLength));

/** The Kafka message the row came from, as it came (to dead-letter a row Postgres refuses). */
export function originalMessage(r: LedgerRow): { key: Buffer | null; value: Buffer | null } {
  const keyStart = r.lineEnd + ID_TUPLE_BYTES;
  const keyEnd = keyStart + Math.max(0, r.keyLength);
  return {
    key: r.keyLength < 0 ? null : Buffer.from(r.text.subarray(keyStart, keyEnd)),
    value: r.valueLength < 0 ? null : Buffer.from(r.text.subarray(keyEnd, keyEnd + r.valueLength)),
  };
}

/** The rows' cost_events COPY lines, in order, in one buffer. */
export const copyLines = (rows: LedgerRow[]): Buffer => joinedText(rows, false);

/** The rows' cost_event_ids tuples, in order, as one binary COPY stream (id-copy.ts). */
export const idTuples = (rows: LedgerRow[]): Buffer => joinedText(rows, true);

function joinedText(rows: LedgerRow[], ids: boolean): Buffer {
  let bytes = ids ? ID_COPY_HEADER.length + ID_COPY_TRAILER.length : 0;
  for (const r of rows) bytes += ids ? ID_TUPLE_BYTES : r.lineEnd - r.lineStart;
  const out = Buffer.allocUnsafe(bytes);
  let at = ids ? ID_COPY_HEADER.copy(out, 0) : 0;
  for (const r of rows) at += ids ? r.text.copy(out, at, r.lineEnd, r.lineEnd + ID_TUPLE_BYTES) : r.text.copy(out, at, r.lineStart, r.lineEnd);
  if (ids) ID_COPY_TRAILER.copy(out, at);
  return out;
}

/** The first arrival of each id in batch order, and every later arrival of an id already in the batch. */
export function firstArrivals(rows: LedgerRow[]): { firsts: LedgerRow[]; repeats: LedgerRow[] } {
  const seen = new Set<string>();
  const firsts: LedgerRow[] = [];
  const repeats: LedgerRow[] = [];
  for (const k of rows) {
    const key = rowKey(k);
    if (seen.has(key)) repeats.push(k);
    else {
      seen.add(key);
      firsts.push(k);
    }
  }
  return { firsts, repeats };
}

export interface Classified {
  /** First arrivals of ids the ledger did not hold: these become rows. */
  fresh: LedgerRow[];
  /** Arrivals of a held id with the same content: dropped. */
  duplicates: number;
  /** Arrivals of a held id with different content: the first one wins, these are dead-lettered. */
  conflicts: LedgerRow[];
}

/**
 * Sorts a batch given the fingerprints the ledger already held for some of its ids (`held`, from
 * before this batch). The content that wins an id is the held one, else the batch's first arrival.
 */
export function classify(firsts: LedgerRow[], repeats: LedgerRow[], held: Map<string, string>): Classified {
  if (repeats.length === 0 && held.size === 0) return { fresh: firsts, duplicates: 0, conflicts: [] }; // the usual batch
  const winner = new Map<string, string>();
  const fresh: LedgerRow[] = [];
  const conflicts: LedgerRow[] = [];
  let duplicates = 0;
  for (const k of firsts) {
    const key = rowKey(k);
    const prior = held.get(key);
    if (prior === undefined) {
      fresh.push(k);
      if (repeats.length > 0) winner.set(key, rowFingerprint(k));
    } else {
      winner.set(key, prior);
      if (prior === rowFingerprint(k)) duplicates++;
      else conflicts.push(k);
    }
  }
  for (const k of repeats) {
    if (winner.get(rowKey(k)) === rowFingerprint(k)) duplicates++;
    else conflicts.push(k);
  }
  return { fresh, duplicates, conflicts };
}

/** What a batch's new rows add to one post (post_costs is a view over the events; this is for metrics and cache invalidation). */
export type PostDelta = PostCostDelta;

/** What a batch's new rows add to one persona, UTC day, cost type and model (persona_daily_costs). */
export interface DailyDelta {
  persona_id: string;
  day: string;
  cost_type: string;
  model: string;
  total: bigint;
  events: number;
}

export interface CostDelta {
  persona_id: string;
  cost_type: string;
  model: string;
  operation: string | null;
  amount_usd: string;
  events: number;
}

/** One (cost type, model, vector operation) of a persona in a batch: its cost delta and its days. */
interface TypeSums {
  costType: string;
  model: string;
  operation: string | null;
  nano: bigint;
  events: number;
  days: Map<number, { total: bigint; events: number }>;
}

/**
 * The rollup deltas of the rows a batch inserts, summed exactly in nano-dollars. The daily rows are
 * sorted by key, so concurrent transactions lock them in one order. Grouped through nested maps of
 * the rows' own strings: a composite key string per row was most of what this allocated.
 */
export function rollupDeltas(rows: LedgerRow[]): { posts: PostDelta[]; daily: DailyDelta[]; deltas: CostDelta[] } {
  const posts = new Map<string, PostDelta>();
  const personas = new Map<string, Map<string, Map<string, Map<string | null, TypeSums>>>>();
  for (const r of rows) {
    if (r.postId !== null) {
      const p = posts.get(r.postId);
      if (p) {
        if (r.personaId < p.persona_id) p.persona_id = r.personaId;
        p.amount_nano += r.amount;
      } else posts.set(r.postId, { post_id: r.postId, persona_id: r.personaId, amount_nano: r.amount });
    }
    let types = personas.get(r.personaId);
    if (!types) personas.set(r.personaId, (types = new Map()));
    let models = types.get(r.costType);
    if (!models) types.set(r.costType, (models = new Map()));
    let operations = models.get(r.model);
    if (!operations) models.set(r.model, (operations = new Map()));
    let sums = operations.get(r.vectorOperation);
    if (!sums) operations.set(r.vectorOperation, (sums = { costType: r.costType, model: r.model, operation: r.vectorOperation, nano: 0n, events: 0, days: new Map() }));
    sums.nano += r.amount;
    sums.events++;
    const day = sums.days.get(r.dayNumber);
    if (day) {
      day.total += r.amount;
      day.events++;
    } else sums.days.set(r.dayNumber, { total: r.amount, events: 1 });
  }
  const dayText = new Map<number, string>();
  const daily = new Map<string, DailyDelta>();
  const deltas: CostDelta[] = [];
  for (const [persona, types] of personas) {
    for (const models of types.values()) {
      for (const operations of models.values()) {
        for (const sums of operations.values()) {
          deltas.push({ persona_id: persona, cost_type: sums.costType, model: sums.model, operation: sums.operation, amount_usd: formatUsd(sums.nano), events: sums.events });
          for (const [dayNumber, d] of sums.days) {
            let day = dayText.get(dayNumber);
            if (day === undefined) dayText.set(dayNumber, (day = new Date(dayNumber * 86_400_000).toISOString().slice(0, 10)));
            // Vector operations share a daily row (its key has no operation).
            const dk = `${persona}\u0000${day}\u0000${sums.costType}\u0000${sums.model}`;
            const same = daily.get(dk);
            if (same) {
              same.total += d.total;
              same.events += d.events;
            } else daily.set(dk, { persona_id: persona, day, cost_type: sums.costType, model: sums.model, total: d.total, events: d.events });
          }
        }
      }
    }
  }
  return {
    posts: [...posts.values()],
    daily: [...daily.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, d]) => d),
    deltas,
  };
}
