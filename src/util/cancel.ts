/**
 * One forwarded call's cancellation, standing in for an AbortController and its signal: it is both (its
 * `signal` is itself), with what mcpx's own code reads of a signal (`aborted`, `reason`,
 * `throwIfAborted`, abort listeners as functions or `handleEvent` objects, `once`). Why not an
 * AbortController: Node 20 promotes most of an AbortSignal's ~1 KB to the old generation
 * (bench/abort-signals.mjs), and a call made one each, so it grew the heap between full GCs. A library
 * that needs a real AbortSignal (the SDK Client, fetch) gets one from `abortSignal()`, made on demand.
 */
type Listener = ((event: Event) => void) | { handleEvent(event: Event): void };

export class Cancel {
  aborted = false;
  reason: unknown = undefined;
  private listeners?: { listener: Listener; once: boolean }[];
  private real?: AbortController;

  /** The signal side: the same object (typed as a signal for the code that reads one). */
  get signal(): AbortSignal {
    return this as unknown as AbortSignal;
  }

  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const listeners = this.listeners;
    this.listeners = undefined;
    const event = { type: 'abort', target: this } as unknown as Event;
    for (const { listener } of listeners ?? []) {
      try {
        if (typeof listener === 'function') listener(event);
        else listener.handleEvent(event);
      } catch (e) {
        queueMicrotask(() => { throw e; }); // as an EventTarget reports a listener's error: it does not stop the others
      }
    }
    this.real?.abort(reason);
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.reason;
  }

  addEventListener(type: string, listener: Listener | null, options?: boolean | { once?: boolean }): void {
    if (type !== 'abort' || !listener || this.aborted) return;
    const list = (this.listeners ??= []);
    if (list.some((l) => l.listener === listener)) return;
    list.push({ listener, once: typeof options === 'object' && !!options.once });
  }

  removeEventListener(type: string, listener: Listener | null): void {
    if (type !== 'abort' || !this.listeners) return;
    const i = this.listeners.findIndex((l) => l.listener === listener);
    if (i !== -1) this.listeners.splice(i, 1);
  }

  /** A real AbortSignal that follows this cancellation, for a library that needs one. */
  abortSignal(): AbortSignal {
    if (!this.real) {
      this.real = new AbortController();
      if (this.aborted) this.real.abort(this.reason);
    }
    return this.real.signal;
  }
}

/** A real AbortSignal for a library: the signal itself, or the one a Cancel makes for it. */
export function abortSignal(signal: AbortSignal): AbortSignal;
export function abortSignal(signal: AbortSignal | undefined): AbortSignal | undefined;
export function abortSignal(signal: AbortSignal | undefined): AbortSignal | undefined {
  return signal instanceof Cancel ? signal.abortSignal() : signal;
}
