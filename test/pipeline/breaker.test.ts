import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Breaker, type BreakerState } from '../../src/pipeline/breaker.js';

const settings = { failureThreshold: 3, recoveryTimeoutMs: 30_000, successThreshold: 2 };

describe('Breaker', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  /** Opens a fresh breaker with failureThreshold failures. */
  const opened = () => {
    const b = new Breaker(settings);
    for (let i = 0; i < 3; i++) b.failure(b.tryAcquire()!);
    return b;
  };

  it('closed → open after failureThreshold consecutive failures; a success in between resets the count', () => {
    const b = new Breaker(settings);
    const states: BreakerState['kind'][] = [];
    b.on('state', (s) => states.push(s.kind));
    b.failure(b.tryAcquire()!);
    b.failure(b.tryAcquire()!);
    b.success(b.tryAcquire()!);
    b.failure(b.tryAcquire()!);
    b.failure(b.tryAcquire()!);
    expect(b.state.kind).toBe('closed');
    b.failure(b.tryAcquire()!);
    expect(b.state).toMatchObject({ kind: 'open', failures: 3 });
    expect(states).toEqual(['open']);
    expect(b.opens).toBe(1);
  });

  it('refuses while open, says when the next try is, then lets one probe through (half-open)', () => {
    const b = opened();
    expect(b.refusing()).toBe(true);
    expect(b.tryAcquire()).toBeUndefined();
    vi.advanceTimersByTime(20_000);
    expect(b.retryInMs()).toBe(10_000);
    expect(b.tryAcquire()).toBeUndefined();
    vi.advanceTimersByTime(10_000);
    expect(b.refusing()).toBe(false); // due for a probe: a peek takes nothing
    expect(b.state.kind).toBe('open');
    expect(b.tryAcquire()).toBe('probe');
    expect(b.state.kind).toBe('half-open');
    expect(b.tryAcquire()).toBeUndefined(); // one probe at a time
  });

  it('closes only after successThreshold probe successes; a failed probe opens it again', () => {
    const b = opened();
    vi.advanceTimersByTime(30_000);
    b.success(b.tryAcquire()!);
    expect(b.state).toMatchObject({ kind: 'half-open', successes: 1 });
    b.success(b.tryAcquire()!);
    expect(b.state).toEqual({ kind: 'closed', failures: 0 });

    const again = opened();
    vi.advanceTimersByTime(30_000);
    again.success(again.tryAcquire()!);
    again.failure(again.tryAcquire()!);
    expect(again.state.kind).toBe('open');
    expect(again.opens).toBe(2);
  });

  it('a probe released (cancelled, or out of time waiting inside mcpx) frees the way for the next call, counting nothing', () => {
    const b = opened();
    vi.advanceTimersByTime(30_000);
    const probe = b.tryAcquire()!;
    b.release(probe);
    expect(b.state).toEqual({ kind: 'half-open', successes: 0, probing: false });
    expect(b.tryAcquire()).toBe('probe');
  });

  it('in half-open only the probe speaks for the child: a call let through while closed that ends late changes nothing', () => {
    const b = new Breaker(settings);
    const straggler = b.tryAcquire()!; // sent while closed, still running
    for (let i = 0; i < 3; i++) b.failure(b.tryAcquire()!);
    vi.advanceTimersByTime(30_000);
    const probe = b.tryAcquire()!;
    b.failure(straggler);
    b.success(straggler);
    expect(b.state).toEqual({ kind: 'half-open', successes: 0, probing: true });
    b.success(probe);
    expect(b.state).toMatchObject({ kind: 'half-open', successes: 1 });
  });
});
