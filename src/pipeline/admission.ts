import { formatDuration } from '../util/duration.js';

/**
 * The bulkhead in front of one child: at most `maxConcurrent` calls sent at once, at most `maxQueue`
 * waiting for a slot, and any call beyond that refused at once. A refusal is mcpx's decision, never the
 * child's failure: it is an `AdmissionRefused`, which the pipeline does not count against the breaker.
 *
 * Hand-written rather than cockatiel's bulkhead: cockatiel wraps the whole call (`execute(fn)`), leaves a
 * cancelled caller in its queue until its turn comes, has no deadline for the wait, and refuses with a
 * generic error. Here a call gets a slot (`enter`), then takes the quota slot and the breaker's probe
 * only once admitted, sends, and gives the slot back (`release`); a cancelled or timed-out waiter
 * leaves the queue at once, and a freed slot goes straight to the first waiter (FIFO, no overtaking).
 */
export class AdmissionRefused extends Error {}

export interface Slot {
  /** True when the call waited in the queue (it had less than its whole deadline for the child). */
  waited: boolean;
  /** Gives the slot back (to the first waiter); safe to call twice. */
  release(): void;
}

export class Admission {
  private running = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    private readonly server: string,
    readonly maxConcurrent: number,
    readonly maxQueue: number,
  ) {}

  /**
   * A slot now, or a place in the queue until one frees up within `ms`. Rejects at once with
   * AdmissionRefused when the queue is full, later with AdmissionRefused when `ms` passes while
   * waiting, and with the signal's reason when the caller cancels.
   */
  enter(ms: number, signal: AbortSignal): Promise<Slot> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const free = this.tryEnter(signal);
    if (free) return Promise.resolve(free);
    if (this.queue.length >= this.maxQueue) {
      return Promise.reject(new AdmissionRefused(`mcpx's queue for ${this.server} is full (${this.describe()})`));
    }
    return new Promise<Slot>((resolve, reject) => {
      const admit = () => {
        done();
        this.running++;
        resolve(this.slot(true));
      };
      const leave = (reason: unknown) => {
        const at = this.queue.indexOf(admit);
        if (at >= 0) this.queue.splice(at, 1);
        done();
        reject(reason);
      };
      const onAbort = () => leave(signal.reason);
      const timer = setTimeout(
        () => leave(new AdmissionRefused(`no free slot in mcpx's queue for ${this.server} within the call's deadline (waited ${formatDuration(ms)}; ${this.describe()})`)),
        ms,
      );
      timer.unref?.();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.queue.push(admit);
    });
  }

  /**
   * A free slot at once, without a promise (the usual case, on the hot path); undefined when there is none
   * or the caller has cancelled: enter() then queues, refuses or rejects. A free slot means an empty
   * queue (a freed slot goes straight to the first waiter), so this never overtakes a waiter.
   */
  tryEnter(signal: AbortSignal): Slot | undefined {
    if (signal.aborted || this.running >= this.maxConcurrent) return undefined;
    this.running++;
    return this.slot(false);
  }

  /** "2 running, 4 waiting; maxConcurrent 2, maxQueue 4" */
  describe(): string {
    return `${this.running} running, ${this.queue.length} waiting; maxConcurrent ${this.maxConcurrent}, maxQueue ${this.maxQueue}`;
  }

  private slot(waited: boolean): Slot {
    let released = false;
    return {
      waited,
      release: () => {
        if (released) return;
        released = true;
        this.running--;
        this.queue.shift()?.();
      },
    };
  }
}

