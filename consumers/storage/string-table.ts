/**
 * Strings read from message bytes, kept so that a value met again (a persona, a model) is the same
 * string rather than a new one per event. A ledger row waits for its transaction long enough to
 * outlive two young-generation collections, so each string a row holds is copied into the old
 * generation, and marked there until the batch is stored; a shared one costs that once.
 *
 * A fixed number of slots indexed by a hash of the bytes, each holding the last string that hashed
 * there: a value is never wrong (the bytes are compared), at worst it is made anew.
 */
export class StringTable {
  private readonly slots: (string | undefined)[];
  private readonly mask: number;

  /** `slots` is rounded up to a power of two. */
  constructor(slots = 4096) {
    let n = 1;
    while (n < slots) n *= 2;
    this.slots = new Array<string | undefined>(n).fill(undefined);
    this.mask = n - 1;
  }

  /** The Latin-1 string of buf[start, end). */
  get(buf: Buffer, start: number, end: number): string {
    let h = 0x811c9dc5; // FNV-1a
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], 0x01000193);
    const slot = (h >>> 0) & this.mask;
    const held = this.slots[slot];
    if (held !== undefined && held.length === end - start) {
      let same = true;
      for (let i = 0; i < held.length; i++) {
        if (held.charCodeAt(i) !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return held;
    }
    const made = (buf as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(start, end);
    this.slots[slot] = made;
    return made;
  }
}
