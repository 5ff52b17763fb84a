import { formatUsd } from '../../src/money';
import { copyLine, type StoredEvent } from './copy-rows';
import { eventFingerprint, eventKey } from './event-key';

/**
 * What the writer needs of one event, taken from it as soon as it is decoded: its COPY line, its id
 * key and content fingerprint (event-key.ts), and the few fields the rollups and dead letters read.
 * The decoded event itself is dropped then, so a batch waiting for Postgres holds flat strings, not
 * object graphs the collector has to trace and promote.
 */
export interface LedgerRow {
  /** The COPY text line, encoded: outside the JS heap, so the collector does not copy it while the row waits. */
  line: Buffer;
  key: string;
  fingerprint: string;
  eventId: string;
  /** ISO 8601, as COPYed. */
  eventTime: string;
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
  /** The original message, kept so a row Postgres refuses can be dead-lettered as it came. */
  kafkaKey: Buffer | null;
  kafkaValue: Buffer | null;
}

export function ledgerRow(stored: StoredEvent): LedgerRow {
  const e = stored.event;
  const eventTime = e.event_time.toISOString();
  return {
    line: Buffer.from(copyLine(stored, eventTime)),
    key: eventKey(e.event_id),
    fingerprint: eventFingerprint(e),
    eventId: e.event_id,
    eventTime,
    dayNumber: Math.floor(e.event_time.getTime() / 86_400_000),
    personaId: e.persona_id,
    postId: e.post_id,
    costType: e.cost_type,
    model: e.llm_usage?.model ?? '',
    vectorOperation: e.vector_db_usage?.operation ?? null,
    amount: e.amount,
    partition: stored.partition,
    offset: stored.offset,
    kafkaKey: stored.key ?? null,
    kafkaValue: stored.value ?? null,
  };
}

/** The first arrival of each id in batch order, and every later arrival of an id already in the batch. */
export function firstArrivals(rows: LedgerRow[]): { firsts: LedgerRow[]; repeats: LedgerRow[] } {
  const seen = new Set<string>();
  const firsts: LedgerRow[] = [];
  const repeats: LedgerRow[] = [];
  for (const k of rows) {
    if (seen.has(k.key)) repeats.push(k);
    else {
      seen.add(k.key);
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
    const prior = held.get(k.key);
    if (prior === undefined) {
      fresh.push(k);
      winner.set(k.key, k.fingerprint);
    } else {
      winner.set(k.key, prior);
      if (prior === k.fingerprint) duplicates++;
      else conflicts.push(k);
    }
  }
  for (const k of repeats) {
    if (winner.get(k.key) === k.fingerprint) duplicates++;
    else conflicts.push(k);
  }
  return { fresh, duplicates, conflicts };
}

/** What a batch's new rows add to one post (post_costs is a view over the events; this is for metrics and cache invalidation). */
export interface PostDelta {
  post_id: string;
  persona_id: string;
  total: bigint;
}

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

/**
 * The rollup deltas of the rows a batch inserts, summed exactly in nano-dollars. The daily rows are
 * sorted by key, so concurrent transactions lock them in one order.
 */
export function rollupDeltas(rows: LedgerRow[]): { posts: PostDelta[]; daily: DailyDelta[]; deltas: CostDelta[] } {
  const posts = new Map<string, PostDelta>();
  const daily = new Map<string, DailyDelta>();
  const costs = new Map<string, { d: CostDelta; nano: bigint }>();
  const days = new Map<number, string>();
  for (const r of rows) {
    if (r.postId !== null) {
      const p = posts.get(r.postId);
      if (p) {
        if (r.personaId < p.persona_id) p.persona_id = r.personaId;
        p.total += r.amount;
      } else posts.set(r.postId, { post_id: r.postId, persona_id: r.personaId, total: r.amount });
    }
    let day = days.get(r.dayNumber);
    if (day === undefined) {
      day = new Date(r.dayNumber * 86_400_000).toISOString().slice(0, 10);
      days.set(r.dayNumber, day);
    }
    const typeKey = `${r.personaId}\u0000${r.costType}\u0000${r.model}`;
    const dk = `${r.personaId}\u0000${day}\u0000${r.costType}\u0000${r.model}`;
    const d = daily.get(dk);
    if (d) {
      d.total += r.amount;
      d.events++;
    } else daily.set(dk, { persona_id: r.personaId, day, cost_type: r.costType, model: r.model, total: r.amount, events: 1 });
    const ck = r.vectorOperation === null ? typeKey : `${typeKey}\u0000${r.vectorOperation}`;
    const c = costs.get(ck);
    if (c) {
      c.nano += r.amount;
      c.d.events++;
    } else costs.set(ck, { d: { persona_id: r.personaId, cost_type: r.costType, model: r.model, operation: r.vectorOperation, amount_usd: '', events: 1 }, nano: r.amount });
  }
  return {
    posts: [...posts.values()],
    daily: [...daily.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, d]) => d),
    deltas: [...costs.values()].map(({ d, nano }) => ({ ...d, amount_usd: formatUsd(nano) })),
  };
}
