/**
 * Identical calls in flight share one run: the first caller starts fn, later callers with the same key
 * join it and get the same outcome (value or rejection). The key is forgotten once it settles.
 *
 * Each caller keeps its own cancellation: a caller whose signal aborts leaves at once (rejected with
 * its signal's reason) while the others still get the answer. fn gets a signal of its own, aborted only
 * when every caller has left: then nobody wants the answer, and the shared work is cancelled.
 */
interface Flight<T> {
  promise: Promise<T>;
  controller: AbortController;
  callers: number;
}

export class SingleFlight<T> {
  private readonly inFlight = new Map<string, Flight<T>>();

  run(key: string, signal: AbortSignal, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    if (signal.aborted) return Promise.reject(signal.reason);
    const flight = this.inFlight.get(key) ?? this.start(key, fn);
    flight.callers++;
    return new Promise<T>((resolve, reject) => {
      const leave = () => {
        reject(signal.reason);
        if (--flight.callers > 0) return;
        this.forget(key, flight); // an identical call arriving now starts afresh rather than join a cancelled one
        flight.controller.abort(signal.reason);
      };
      signal.addEventListener('abort', leave, { once: true });
      flight.promise.then(
        (v) => {
          signal.removeEventListener('abort', leave);
          resolve(v);
        },
        (e) => {
          signal.removeEventListener('abort', leave);
          reject(e);
        },
      );
    });
  }

  /** How many distinct keys are in flight. */
  get size(): number {
    return this.inFlight.size;
  }

  private start(key: string, fn: (signal: AbortSignal) => Promise<T>): Flight<T> {
    const controller = new AbortController();
    let promise: Promise<T>;
    try {
      promise = Promise.resolve(fn(controller.signal));
    } catch (e) {
      promise = Promise.reject(e); // a synchronous throw is shared like a rejection
    }
    const flight: Flight<T> = { promise, controller, callers: 0 };
    const forget = () => this.forget(key, flight);
    promise.then(forget, forget); // also: a run every caller left may reject with nobody listening
    this.inFlight.set(key, flight);
    return flight;
  }

  private forget(key: string, flight: Flight<T>): void {
    if (this.inFlight.get(key) === flight) this.inFlight.delete(key);
  }
}
