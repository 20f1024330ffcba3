import type { RateLimit } from '../config/types.js';

/**
 * A child's call quota (`rateLimit: {calls, per}`, say Notion's API limit): a sliding window of the
 * start times of the last `calls` calls. take() gets a slot now or says no; wait() waits for one up
 * to a deadline. Small and exact rather than a library's token bucket: the window is the quota's own
 * definition, and a bucket would let a burst above it through.
 */
export class Quota {
  private readonly starts: number[] = [];
  /** How often a call found the quota used up (for stats). */
  heldBack = 0;

  constructor(readonly limit: RateLimit, private readonly now: () => number = Date.now) {}

  take(): boolean {
    const t = this.now();
    while (this.starts.length && t - this.starts[0]! >= this.limit.perMs) this.starts.shift();
    if (this.starts.length >= this.limit.calls) return false;
    this.starts.push(t);
    return true;
  }

  /** ms until the oldest call in the window leaves it. */
  nextSlotInMs(): number {
    return this.starts.length ? Math.max(0, this.starts[0]! + this.limit.perMs - this.now()) : 0;
  }

  /** Waits for a slot; false when none frees up within `ms` or the signal aborts. */
  async wait(ms: number, signal: AbortSignal): Promise<boolean> {
    const end = this.now() + ms;
    while (!this.take()) {
      const delay = this.nextSlotInMs();
      if (this.now() + delay > end || signal.aborted) return false;
      await new Promise((r) => setTimeout(r, Math.max(1, delay)).unref());
    }
    return true;
  }
}
