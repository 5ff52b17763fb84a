/** Polls `check` until it returns a truthy value (returned) or the timeout passes (throws with the last value). */
export async function waitFor<T>(check: () => Promise<T> | T, opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const intervalMs = opts.intervalMs ?? 50;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await check();
      if (last) return last as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${opts.what ?? 'condition'}; last value: ${last instanceof Error ? last.message : JSON.stringify(last, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
