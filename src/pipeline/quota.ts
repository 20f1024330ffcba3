import type { RateLimit } from '../config/types.js';

/**
 * A child's call quota (`rateLimit: {calls, per}`, say Notion's API limit): a sliding window of the
 * send times of the last `calls` calls. Small and exact rather than a library's token bucket: the
 * window is the quota's own definition, and a bucket would let a burst above it through.
 *
 * A slot is taken (`take`) only by a call really sent: the pipeline first checks for room (`hasRoom`,
 * `waitForRoom`), waits for its turn in the bulkhead, then takes the slot, and gives it back when the
 * breaker refuses the call after all.
 */
export class Quota {
  private readonly sent: number[] = [];
  /** How often a call found the quota used up (for stats). */
  heldBack = 0;

  constructor(readonly limit: RateLimit, private readonly now: () => number = Date.now) {}

  hasRoom(): boolean {
    const t = this.now();
    while (this.sent.length && t - this.sent[0]! >= this.limit.perMs) this.sent.shift();
    return this.sent.length < this.limit.calls;
  }

  /** Takes a slot now, if there is room. */
  take(): boolean {
    if (!this.hasRoom()) return false;
    this.sent.push(this.now());
    return true;
  }

  /** The call that just took a slot was not sent after all: the slot is free again. */
  giveBack(): void {
    this.sent.pop();
  }

  /** ms until the oldest call in the window leaves it. */
  nextSlotInMs(): number {
    return this.sent.length ? Math.max(0, this.sent[0]! + this.limit.perMs - this.now()) : 0;
  }

  /** Waits until there is room (without taking it): false when none frees up within `ms`; rejects when the signal aborts. */
  async waitForRoom(ms: number, signal: AbortSignal): Promise<boolean> {
    const end = this.now() + ms;
    while (!this.hasRoom()) {
      signal.throwIfAborted();
      const delay = this.nextSlotInMs();
      if (this.now() + delay > end) return false;
      await sleep(Math.max(1, delay), signal);
    }
    return true;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    timer.unref?.();
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
