/**
 * Tracks messages in flight per partition when they finish out of order, and says which offset
 * may be committed: the lowest unfinished one (or one past the highest seen when none is left).
 */
export class OffsetTracker {
  private readonly pending = new Map<number, Set<bigint>>();
  private readonly highest = new Map<number, bigint>();
  private readonly committed = new Map<number, bigint>();

  begin(partition: number, offset: string): void {
    const o = BigInt(offset);
    let set = this.pending.get(partition);
    if (!set) this.pending.set(partition, (set = new Set()));
    set.add(o);
    if ((this.highest.get(partition) ?? -1n) < o) this.highest.set(partition, o);
  }

  end(partition: number, offset: string): void {
    this.pending.get(partition)?.delete(BigInt(offset));
  }

  get inFlight(): number {
    let n = 0;
    for (const s of this.pending.values()) n += s.size;
    return n;
  }

  /** Offsets to commit now (only those that moved since the last call). */
  takeCommittable(): { partition: number; offset: string }[] {
    const out: { partition: number; offset: string }[] = [];
    for (const [partition, high] of this.highest) {
      const set = this.pending.get(partition);
      let next = high + 1n;
      if (set && set.size) for (const o of set) if (o < next) next = o;
      if ((this.committed.get(partition) ?? -1n) < next) {
        this.committed.set(partition, next);
        out.push({ partition, offset: next.toString() });
      }
    }
    return out;
  }

  /** Forget partitions taken away by a rebalance. */
  reset(): void {
    this.pending.clear();
    this.highest.clear();
    this.committed.clear();
  }
}
