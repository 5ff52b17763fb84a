/**
 * The event ids seen most recently on one partition, so that a second arrival of an id (a
 * caller's retry with another event time, a redelivery, a replay) is counted once.
 *
 * Bounded: two generations of at most `bound / 2` ids each. When the current one fills, it becomes
 * the previous one and the oldest generation is dropped, so the most recent `bound / 2` to `bound`
 * ids are always held; an id older than that is no longer recognised. Each id is kept as a 64-bit
 * hash (two independent 32-bit hashes) in open-addressing tables of typed arrays: 16 bytes per
 * remembered id whatever the id's length, and no garbage per event. Two different ids share a
 * hash with probability ~bound / 2^64 per lookup (about 1 in 10^14 at the default bound).
 */
export class RecentIds {
  private readonly capacity: number;
  private readonly generation: number;
  private current: HashTable;
  private previous: HashTable;

  constructor(readonly bound: number) {
    this.generation = Math.max(1, Math.ceil(bound / 2));
    // Load factor ≤ 0.5 keeps linear probes short.
    this.capacity = 2 ** Math.ceil(Math.log2(this.generation * 2));
    this.current = new HashTable(this.capacity);
    this.previous = new HashTable(this.capacity);
  }

  /** Remembers the id; false if it was already held (a second arrival). */
  add(id: string): boolean {
    const hi = hashA(id);
    const lo = hashB(id) || 1; // (0, 0) marks an empty slot
    return this.addHash(hi, lo);
  }

  private addHash(hi: number, lo: number): boolean {
    if (this.previous.has(hi, lo) || this.current.has(hi, lo)) return false;
    if (this.current.size >= this.generation) {
      const dropped = this.previous;
      dropped.clear();
      this.previous = this.current;
      this.current = dropped;
    }
    this.current.insert(hi, lo);
    return true;
  }

  get size(): number {
    return this.current.size + this.previous.size;
  }

  /** Base64 of the held hashes, oldest generation first. */
  serialize(): string {
    const pairs = new Uint32Array(2 * this.size);
    let i = this.previous.copyTo(pairs, 0);
    i = this.current.copyTo(pairs, i);
    return Buffer.from(pairs.buffer, pairs.byteOffset, i * 4).toString('base64');
  }

  static restore(bound: number, text: string | undefined): RecentIds {
    const ids = new RecentIds(bound);
    if (!text) return ids;
    const buf = Buffer.from(text, 'base64');
    const pairs = new Uint32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + (buf.length & ~7)));
    // Keep the newest `bound` of them (the bound may have been lowered since).
    const from = Math.max(0, pairs.length / 2 - ids.generation * 2);
    for (let k = from; k < pairs.length / 2; k++) ids.addHash(pairs[2 * k], pairs[2 * k + 1]);
    return ids;
  }
}

class HashTable {
  size = 0;
  private readonly hi: Uint32Array;
  private readonly lo: Uint32Array;
  private readonly mask: number;
  /** Slots in insertion order, so a serialized table keeps its age order. */
  private readonly order: Uint32Array;

  constructor(capacity: number) {
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.order = new Uint32Array(capacity / 2);
    this.mask = capacity - 1;
  }

  has(hi: number, lo: number): boolean {
    for (let i = (hi ^ lo) & this.mask; ; i = (i + 1) & this.mask) {
      if (this.lo[i] === 0 && this.hi[i] === 0) return false;
      if (this.hi[i] === hi && this.lo[i] === lo) return true;
    }
  }

  insert(hi: number, lo: number): void {
    let i = (hi ^ lo) & this.mask;
    while (this.lo[i] !== 0 || this.hi[i] !== 0) i = (i + 1) & this.mask;
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.order[this.size++] = i;
  }

  clear(): void {
    this.hi.fill(0);
    this.lo.fill(0);
    this.size = 0;
  }

  copyTo(pairs: Uint32Array, at: number): number {
    for (let k = 0; k < this.size; k++) {
      const slot = this.order[k];
      pairs[at++] = this.hi[slot];
      pairs[at++] = this.lo[slot];
    }
    return at;
  }
}

/** 32-bit murmur3-style hash of the UTF-16 code units, seeded; two seeds give independent halves. */
function murmur(s: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) {
    let k = Math.imul(s.charCodeAt(i), 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    h ^= Math.imul(k, 0x1b873593);
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= s.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const hashA = (s: string) => murmur(s, 0x9747b28c);
const hashB = (s: string) => murmur(s, 0x5bd1e995);
