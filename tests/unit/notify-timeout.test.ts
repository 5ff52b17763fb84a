import { channelTimeout } from '../../src/notify/channels/timeout';

describe('channelTimeout', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('gives up after the timeout when the process ran on time', () => {
    let t = 0;
    const timeout = channelTimeout(100, 400, () => t);
    t = 100;
    jest.advanceTimersByTime(100);
    jest.runOnlyPendingTimers(); // the setImmediate after the I/O of that loop turn
    expect(timeout.signal.aborted).toBe(true);
    expect((timeout.signal.reason as Error).name).toBe('TimeoutError');
  });

  it('re-arms for the time a stall took, so a reply read meanwhile is kept', () => {
    let t = 0;
    const timeout = channelTimeout(100, 400, () => t);
    t = 600; // the timer fires 500 ms late
    jest.advanceTimersByTime(100);
    jest.runOnlyPendingTimers(); // the next loop turn: still waiting, for the 500 ms it lost
    expect(timeout.signal.aborted).toBe(false);
    timeout.clear(); // the reply was read
    jest.runAllTimers();
    expect(timeout.signal.aborted).toBe(false);
  });

  it('bounds the extra time it grants in all', () => {
    let t = 0;
    const timeout = channelTimeout(100, 400, () => t);
    for (let i = 0; i < 10 && !timeout.signal.aborted; i++) {
      t += 1000; // stalled every time
      jest.advanceTimersByTime(1000);
      jest.runOnlyPendingTimers();
    }
    expect(timeout.signal.aborted).toBe(true);
  });
});
