/**
 * Gathers items from many concurrent producers (one per Kafka partition) into batches that are
 * flushed once they hold `maxItems` (callers add whole chunks, so a batch may exceed it by one
 * chunk) or when the oldest item has waited `maxWaitMs`. `add` resolves only after the flush
 * holding its items succeeded, so a caller may then commit the offsets of exactly those items.
 * Up to `concurrency` flushes run at once, each in its own slot (the slot index is passed to
 * `flush`, e.g. to pick a database connection); items arriving while every slot is busy wait for
 * the next free one. No I/O of its own.
 */
export class BatchAccumulator<T> {
  private buffer: T[] = [];
  private waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** When the oldest buffered item arrived (Date.now()); meaningful while the buffer is not empty. */
  private oldestAt = 0;
  private readonly freeSlots: number[];
  private readonly running = new Set<Promise<void>>();
  private flushingItems = 0;

  constructor(
    private readonly flushFn: (items: T[], slot: number) => Promise<void>,
    private readonly maxItems: number,
    private readonly maxWaitMs: number,
    concurrency = 1,
  ) {
    this.freeSlots = Array.from({ length: Math.max(1, concurrency) }, (_, i) => i);
  }

  get size(): number {
    return this.buffer.length;
  }

  /** Items buffered or being flushed. */
  get pending(): number {
    return this.buffer.length + this.flushingItems;
  }

  /** Resolves once fewer than `limit` items are pending (back-pressure for callers that do not await `add`). */
  async waitForRoom(limit: number): Promise<void> {
    while (this.pending >= limit && this.running.size > 0) await Promise.race(this.running);
  }

  add(items: T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.buffer.length === 0) this.oldestAt = Date.now();
      this.buffer.push(...items);
      this.waiters.push({ resolve, reject });
      if (this.buffer.length >= this.maxItems) this.trigger();
      else if (!this.timer) this.timer = setTimeout(() => this.trigger(), this.maxWaitMs);
    });
  }

  private trigger(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.freeSlots.length === 0 || this.buffer.length === 0) return; // a finishing flush re-checks the buffer
    const slot = this.freeSlots.shift()!;
    const flush: Promise<void> = this.run(slot).finally(() => {
      this.running.delete(flush);
      this.freeSlots.push(slot);
      // Items that arrived during the flush have been waiting since oldestAt, not since now: a
      // batch whose wait is already over goes at once (a fresh timer here added up to maxWaitMs
      // to every cycle of a lane whose flushes take longer than the wait).
      const waited = Date.now() - this.oldestAt;
      if (this.buffer.length >= this.maxItems || (this.buffer.length > 0 && waited >= this.maxWaitMs)) this.trigger();
      else if (this.buffer.length > 0 && !this.timer) this.timer = setTimeout(() => this.trigger(), this.maxWaitMs - waited);
    });
    this.running.add(flush);
  }

  private async run(slot: number): Promise<void> {
    // Take whole callers' contributions so every waiter is settled by exactly one flush.
    const items = this.buffer;
    const waiters = this.waiters;
    this.buffer = [];
    this.waiters = [];
    this.flushingItems += items.length;
    try {
      await this.flushFn(items, slot);
      for (const w of waiters) w.resolve();
    } catch (err) {
      for (const w of waiters) w.reject(err);
    } finally {
      this.flushingItems -= items.length;
    }
  }

  /** Flushes whatever is buffered now and waits for it. */
  async drain(): Promise<void> {
    while (this.running.size > 0 || this.buffer.length > 0) {
      this.trigger();
      await Promise.race(this.running);
    }
  }
}
