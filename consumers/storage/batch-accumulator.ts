/**
 * Gathers items from many concurrent producers (one per Kafka partition) into batches that are
 * flushed once they hold `maxItems` (callers add whole chunks, so a batch may exceed it by one
 * chunk) or when the oldest item has waited `maxWaitMs`. `add`
 * resolves only after the flush holding its items succeeded, so a caller may then commit the
 * offsets of exactly those items. One flush runs at a time; items arriving meanwhile wait for
 * the next one. No I/O of its own: `flush` is supplied.
 */
export class BatchAccumulator<T> {
  private buffer: T[] = [];
  private waiters: { resolve: () => void; reject: (err: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly flushFn: (items: T[]) => Promise<void>,
    private readonly maxItems: number,
    private readonly maxWaitMs: number,
  ) {}

  get size(): number {
    return this.buffer.length;
  }

  add(items: T[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
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
    if (this.flushing) return; // the running flush re-checks the buffer when it ends
    this.flushing = this.run().finally(() => {
      this.flushing = undefined;
      if (this.buffer.length >= this.maxItems) this.trigger();
      else if (this.buffer.length > 0 && !this.timer) this.timer = setTimeout(() => this.trigger(), this.maxWaitMs);
    });
  }

  private async run(): Promise<void> {
    // Take whole callers' contributions so every waiter is settled by exactly one flush.
    const items = this.buffer;
    const waiters = this.waiters;
    this.buffer = [];
    this.waiters = [];
    if (items.length === 0) {
      for (const w of waiters) w.resolve();
      return;
    }
    try {
      await this.flushFn(items);
      for (const w of waiters) w.resolve();
    } catch (err) {
      for (const w of waiters) w.reject(err);
    }
  }

  /** Flushes whatever is buffered now and waits for it. */
  async drain(): Promise<void> {
    while (this.flushing || this.buffer.length > 0) {
      if (!this.flushing) this.trigger();
      await this.flushing;
    }
  }
}
