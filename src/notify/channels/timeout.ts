/**
 * An abort signal for a request to a channel that fires after `ms` during which this process could
 * run. A timer that fires late means the event loop was starved (a loaded machine, a long GC): the
 * reply may already be waiting in the socket, unread, and giving up now would make the retry a
 * second delivery of a message the receiver accepted. So a late timer re-arms for the time it lost
 * (at most `maxExtraMs` in all) and lets pending I/O be read first. A peer that really does not
 * answer is still given up after `ms` of responsive time.
 */
export function channelTimeout(ms: number, maxExtraMs = 4 * ms, now: () => number = () => performance.now()): { signal: AbortSignal; clear(): void } {
  const controller = new AbortController();
  let extra = 0;
  let timer: NodeJS.Timeout;
  let immediate: NodeJS.Immediate | undefined;
  const arm = (delay: number) => {
    const armedAt = now();
    timer = setTimeout(() => {
      const late = now() - armedAt - delay;
      if (late > 5 && extra < maxExtraMs) {
        const again = Math.min(late, maxExtraMs - extra);
        extra += again;
        arm(again);
        return;
      }
      // Timers run before I/O in a loop turn: read whatever has arrived before giving up.
      immediate = setImmediate(() => controller.abort(new DOMException(`no answer within ${ms} ms`, 'TimeoutError')));
    }, delay);
  };
  arm(ms);
  return {
    signal: controller.signal,
    clear: () => {
      clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
    },
  };
}
