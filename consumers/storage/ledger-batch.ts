import { formatUsd } from '../../src/money';
import type { StoredEvent } from './copy-rows';
import { eventFingerprint, eventKey } from './event-key';

/** An event with its id key and content fingerprint (see event-key.ts). */
export interface KeyedEvent {
  stored: StoredEvent;
  key: string;
  fingerprint: string;
}

export function keyEvents(events: StoredEvent[]): KeyedEvent[] {
  return events.map((stored) => ({ stored, key: eventKey(stored.event.event_id), fingerprint: eventFingerprint(stored.event) }));
}

/** The first arrival of each id in batch order, and every later arrival of an id already in the batch. */
export function firstArrivals(keyed: KeyedEvent[]): { firsts: KeyedEvent[]; repeats: KeyedEvent[] } {
  const seen = new Set<string>();
  const firsts: KeyedEvent[] = [];
  const repeats: KeyedEvent[] = [];
  for (const k of keyed) {
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
  fresh: KeyedEvent[];
  /** Arrivals of a held id with the same content: dropped. */
  duplicates: number;
  /** Arrivals of a held id with different content: the first one wins, these are dead-lettered. */
  conflicts: KeyedEvent[];
}

/**
 * Sorts a batch given the fingerprints the ledger already held for some of its ids (`held`, from
 * before this batch). The content that wins an id is the held one, else the batch's first arrival.
 */
export function classify(firsts: KeyedEvent[], repeats: KeyedEvent[], held: Map<string, string>): Classified {
  const winner = new Map<string, string>();
  const fresh: KeyedEvent[] = [];
  const conflicts: KeyedEvent[] = [];
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

const byKey = <T>(key: (t: T) => string) => (a: T, b: T) => {
  const x = key(a);
  const y = key(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

/**
 * The rollup deltas of the rows a batch inserts, summed exactly in nano-dollars. The daily rows are
 * sorted by key, so concurrent transactions lock them in one order.
 */
export function rollupDeltas(events: StoredEvent[]): { posts: PostDelta[]; daily: DailyDelta[]; deltas: CostDelta[] } {
  const posts = new Map<string, PostDelta>();
  const daily = new Map<string, DailyDelta>();
  const costs = new Map<string, { d: CostDelta; nano: bigint }>();
  const days = new Map<number, string>();
  for (const { event: e } of events) {
    const model = e.llm_usage?.model ?? '';
    const ms = e.event_time.getTime();
    if (e.post_id !== null) {
      const p = posts.get(e.post_id);
      if (p) {
        if (e.persona_id < p.persona_id) p.persona_id = e.persona_id;
        p.total += e.amount;
      } else posts.set(e.post_id, { post_id: e.post_id, persona_id: e.persona_id, total: e.amount });
    }
    const dayNumber = Math.floor(ms / 86_400_000);
    let day = days.get(dayNumber);
    if (day === undefined) {
      day = new Date(dayNumber * 86_400_000).toISOString().slice(0, 10);
      days.set(dayNumber, day);
    }
    const dk = `${e.persona_id}\u0000${day}\u0000${e.cost_type}\u0000${model}`;
    const d = daily.get(dk);
    if (d) {
      d.total += e.amount;
      d.events++;
    } else daily.set(dk, { persona_id: e.persona_id, day, cost_type: e.cost_type, model, total: e.amount, events: 1 });
    const operation = e.vector_db_usage?.operation ?? null;
    const ck = `${e.persona_id}\u0000${e.cost_type}\u0000${model}\u0000${operation ?? ''}`;
    const c = costs.get(ck);
    if (c) {
      c.nano += e.amount;
      c.d.events++;
    } else costs.set(ck, { d: { persona_id: e.persona_id, cost_type: e.cost_type, model, operation, amount_usd: '', events: 1 }, nano: e.amount });
  }
  return {
    posts: [...posts.values()],
    daily: [...daily.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, d]) => d),
    deltas: [...costs.values()].map(({ d, nano }) => ({ ...d, amount_usd: formatUsd(nano) })),
  };
}
