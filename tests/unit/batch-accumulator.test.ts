import { BatchAccumulator } from '../../consumers/storage/batch-accumulator';

describe('BatchAccumulator', () => {
  it('flushes as soon as the batch is full and resolves callers only after their flush', async () => {
    const flushed: number[][] = [];
    const acc = new BatchAccumulator<number>(async (items) => void flushed.push(items), 4, 60_000);
    const a = acc.add([1, 2]);
    const b = acc.add([3, 4]);
    await Promise.all([a, b]);
    expect(flushed).toEqual([[1, 2, 3, 4]]);
  });

  it('flushes a partial batch after the wait time', async () => {
    const flushed: number[][] = [];
    const acc = new BatchAccumulator<number>(async (items) => void flushed.push(items), 1000, 20);
    const started = Date.now();
    await acc.add([7]);
    expect(flushed).toEqual([[7]]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
  });

  it('rejects every caller of a failed flush, so none of them commits offsets', async () => {
    const acc = new BatchAccumulator<number>(async () => {
      throw new Error('db down');
    }, 2, 60_000);
    const results = await Promise.allSettled([acc.add([1]), acc.add([2])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });

  it('runs one flush at a time and gathers what arrives meanwhile into the next', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const flushed: number[][] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const acc = new BatchAccumulator<number>(async (items) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      if (flushed.length === 0) await gate;
      flushed.push(items);
      concurrent--;
    }, 1, 60_000);
    const first = acc.add([1]);
    const second = acc.add([2]);
    const third = acc.add([3]);
    release();
    await Promise.all([first, second, third]);
    expect(maxConcurrent).toBe(1);
    expect(flushed).toEqual([[1], [2, 3]]);
  });

  it('runs up to `concurrency` flushes at once, each in its own slot', async () => {
    const releases: (() => void)[] = [];
    const slots: number[] = [];
    let concurrent = 0;
    let maxConcurrent = 0;
    const acc = new BatchAccumulator<number>(async (_items, slot) => {
      slots.push(slot);
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      await new Promise<void>((r) => releases.push(r));
      concurrent--;
    }, 1, 60_000, 2);
    const all = [acc.add([1]), acc.add([2]), acc.add([3])];
    await new Promise((r) => setImmediate(r));
    expect(releases).toHaveLength(2);
    expect(slots.sort()).toEqual([0, 1]);
    releases.shift()!();
    await new Promise((r) => setTimeout(r, 5));
    expect(releases).toHaveLength(2);
    while (releases.length) releases.shift()!();
    await new Promise((r) => setTimeout(r, 5));
    while (releases.length) releases.shift()!();
    await Promise.all(all);
    expect(maxConcurrent).toBe(2);
  });

  it('drain flushes what is buffered', async () => {
    const flushed: number[][] = [];
    const acc = new BatchAccumulator<number>(async (items) => void flushed.push(items), 100, 60_000);
    const pending = acc.add([5]);
    await acc.drain();
    await pending;
    expect(flushed).toEqual([[5]]);
  });
});

describe('BatchAccumulator wait after a slow flush', () => {
  it('flushes items that waited through a longer flush as soon as it ends, not a full wait later', async () => {
    const starts: number[] = [];
    let firstEnded = 0;
    const acc = new BatchAccumulator<number>(async (items) => {
      starts.push(Date.now());
      if (items[0] === 1) {
        await new Promise((r) => setTimeout(r, 150));
        firstEnded = Date.now();
      }
    }, 1000, 60);
    const first = acc.add([1]);
    await new Promise((r) => setTimeout(r, 80)); // the first flush is running now
    const second = acc.add([2]); // waits through the rest of it (~130 ms, more than 60)
    await Promise.all([first, second]);
    expect(starts).toHaveLength(2);
    expect(starts[1] - firstEnded).toBeLessThan(40);
  });
});
