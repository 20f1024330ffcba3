/**
 * Identical calls in flight share one promise: the first caller runs fn, later callers with the same
 * key get the same outcome (value or rejection). The key is forgotten once it settles.
 */
export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Promise<T>>();

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const existing = this.inFlight.get(key);
    if (existing) return existing;
    let started: Promise<T>;
    try {
      started = Promise.resolve(fn());
    } catch (e) {
      started = Promise.reject(e); // a synchronous throw is shared like a rejection
    }
    const shared = started.finally(() => {
      if (this.inFlight.get(key) === shared) this.inFlight.delete(key);
    });
    this.inFlight.set(key, shared);
    return shared;
  }

  /** How many distinct keys are in flight. */
  get size(): number {
    return this.inFlight.size;
  }
}
