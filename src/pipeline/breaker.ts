import { EventEmitter } from 'node:events';
import type { BreakerSettings } from '../config/types.js';

/**
 * A circuit breaker per child. Hand-written rather than cockatiel's: cockatiel 3.x (the line that runs
 * on Node 20) closes after a single half-open success, and mcpx's config asks for `successThreshold`
 * successes; the open state also has to tell the model when the next try is ("next try in 24 s").
 *
 * closed --failureThreshold consecutive failures--> open --recoveryTimeoutMs--> half-open
 * half-open --successThreshold successes--> closed;  half-open --one failure--> open
 * In half-open, one call at a time is let through as the probe; the others are refused like in open.
 * The probe alone speaks for the child in half-open: a call let through while closed that ends later
 * changes nothing then. A probe that ends without telling anything (cancelled, or it spent its deadline
 * waiting inside mcpx) is released for the next call.
 */
export type BreakerState =
  | { kind: 'closed'; failures: number }
  | { kind: 'open'; openedAt: number; failures: number }
  | { kind: 'half-open'; successes: number; probing: boolean };

/** What tryAcquire let through: an ordinary call (closed) or the half-open probe. */
export type Pass = 'call' | 'probe';

export class Breaker extends EventEmitter<{ state: [BreakerState] }> {
  state: BreakerState = { kind: 'closed', failures: 0 };
  opens = 0;

  constructor(
    private readonly settings: BreakerSettings,
    private readonly now: () => number = Date.now,
  ) {
    super();
  }

  /** Open and not yet due for a probe: every call would be refused now. A peek that takes nothing. */
  refusing(): boolean {
    const s = this.state;
    return s.kind === 'open' && this.now() - s.openedAt < this.settings.recoveryTimeoutMs;
  }

  /** Lets a call go to the child now (undefined: refused); call it only for a call about to be sent. */
  tryAcquire(): Pass | undefined {
    const s = this.state;
    if (s.kind === 'closed') return 'call';
    if (s.kind === 'open') {
      if (this.now() - s.openedAt < this.settings.recoveryTimeoutMs) return undefined;
      this.set({ kind: 'half-open', successes: 0, probing: true });
      return 'probe';
    }
    if (s.probing) return undefined;
    s.probing = true;
    return 'probe';
  }

  success(pass: Pass): void {
    const s = this.state;
    if (s.kind === 'closed') {
      if (s.failures) s.failures = 0;
    } else if (s.kind === 'half-open' && pass === 'probe') {
      s.successes++;
      s.probing = false;
      if (s.successes >= this.settings.successThreshold) this.set({ kind: 'closed', failures: 0 });
    }
  }

  failure(pass: Pass): void {
    const s = this.state;
    if (s.kind === 'closed') {
      s.failures++;
      if (s.failures >= this.settings.failureThreshold) this.open(s.failures);
    } else if (s.kind === 'half-open' && pass === 'probe') {
      this.open(this.settings.failureThreshold);
    }
  }

  /** A call let through ended without telling anything about the child: the probe is free again. */
  release(pass: Pass): void {
    if (this.state.kind === 'half-open' && pass === 'probe') this.state.probing = false;
  }

  /** ms until a probe is let through (0 when not open). */
  retryInMs(): number {
    const s = this.state;
    return s.kind === 'open' ? Math.max(0, s.openedAt + this.settings.recoveryTimeoutMs - this.now()) : 0;
  }

  private open(failures: number): void {
    this.opens++;
    this.set({ kind: 'open', openedAt: this.now(), failures });
  }

  private set(s: BreakerState): void {
    this.state = s;
    this.emit('state', s);
  }
}
