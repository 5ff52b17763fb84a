/**
 * A poor man's profiler for the Connect worker: SIGQUIT every few seconds makes the JVM print a
 * thread dump to its stdout (cheap: no agent, no second JVM as jcmd would start), and a count of
 * the frames the sink task threads were in tells where a task's time goes (decoding, transforms,
 * binding, waiting on Postgres).
 */
export class ThreadSampler {
  private timer?: NodeJS.Timeout;

  constructor(private readonly pid: number) {}

  start(everyMs = 2000): void {
    this.timer ??= setInterval(() => {
      try {
        process.kill(this.pid, 'SIGQUIT');
      } catch {
        this.stop();
      }
    }, everyMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The most frequent frames of the threads named `prefix…` across the dumps in `text`. */
export function hotFrames(text: string, opts: { prefix?: string; depth?: number; top?: number } = {}): string {
  const prefix = opts.prefix ?? 'task-thread-';
  const counts = new Map<string, number>();
  const dumps = (text.match(/^Full thread dump/gm) ?? []).length;
  for (const block of text.split(/\n\s*\n/)) {
    if (!block.startsWith(`"${prefix}`)) continue;
    const state = /java\.lang\.Thread\.State: (\w+)/.exec(block)?.[1] ?? '?';
    const frames = block
      .split('\n')
      .filter((l) => l.trim().startsWith('at '))
      .slice(0, opts.depth ?? 8)
      .map((l) => l.trim().slice(3).replace(/\(.*\)$/, ''));
    // The first frame outside the JDK says whose code it is; the top frame what it does.
    const own = frames.find((f) => !/^(java|jdk|sun)\./.test(f)) ?? frames[0] ?? '?';
    const key = `${state} ${own}${frames[0] && frames[0] !== own ? ` → ${frames[0]}` : ''}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const rows = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, opts.top ?? 15);
  return [`${dumps} thread dumps`, ...rows.map(([k, n]) => `${String(n).padStart(5)}  ${k}`)].join('\n');
}
