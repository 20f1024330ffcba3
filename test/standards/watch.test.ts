// The standards server's debounce (src/standards/watch.ts), on a fake clock: a burst of file events costs
// one reload, and a burst that never pauses still reloads every maxWaitMs.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { burstTimer } from '../../src/standards/watch.js';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('burstTimer', () => {
  it('fires once, debounceMs after the last event of a burst', () => {
    const fired = vi.fn();
    const t = burstTimer(fired, { debounceMs: 150, maxWaitMs: 1000 });
    for (let i = 0; i < 5; i++) {
      t.schedule();
      vi.advanceTimersByTime(100); // each event within the debounce of the one before
    }
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(49);
    expect(fired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(fired).toHaveBeenCalledTimes(1);
    t.schedule(); // a later event on its own: one more
    vi.advanceTimersByTime(150);
    expect(fired).toHaveBeenCalledTimes(2);
  });

  it('fires at least every maxWaitMs while the events keep coming, and not after cancel', () => {
    const fired = vi.fn();
    const t = burstTimer(fired, { debounceMs: 150, maxWaitMs: 1000 });
    for (let i = 0; i < 25; i++) {
      t.schedule();
      vi.advanceTimersByTime(100);
    }
    expect(fired).toHaveBeenCalledTimes(2); // at 1000 ms and at 2000 ms of a 2500 ms burst
    t.schedule();
    t.cancel();
    vi.advanceTimersByTime(5000);
    expect(fired).toHaveBeenCalledTimes(2);
  });
});
