import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Quota } from '../../src/pipeline/quota.js';

const live = () => new AbortController().signal;

describe('Quota (sliding window)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('lets `calls` calls through per window; a slot frees up when its call leaves the window, not all at once', () => {
    const q = new Quota({ calls: 3, perMs: 1000 });
    expect(q.take()).toBe(true);
    vi.advanceTimersByTime(400);
    expect(q.take()).toBe(true);
    expect(q.take()).toBe(true);
    expect(q.take()).toBe(false);
    expect(q.nextSlotInMs()).toBe(600);
    vi.advanceTimersByTime(600); // the first call leaves the window; the two at 400 ms are still in it
    expect(q.take()).toBe(true);
    expect(q.take()).toBe(false);
    vi.advanceTimersByTime(399);
    expect(q.hasRoom()).toBe(false);
    vi.advanceTimersByTime(1);
    expect(q.hasRoom()).toBe(true);
  });

  it('hasRoom takes nothing; giveBack frees the slot a call took but did not use', () => {
    const q = new Quota({ calls: 1, perMs: 1000 });
    expect(q.hasRoom()).toBe(true);
    expect(q.hasRoom()).toBe(true);
    expect(q.take()).toBe(true);
    expect(q.hasRoom()).toBe(false);
    q.giveBack();
    expect(q.take()).toBe(true);
  });

  it('waitForRoom resolves when a slot frees up within the time given, false when none does', async () => {
    const q = new Quota({ calls: 1, perMs: 1000 });
    q.take();
    const late = q.waitForRoom(500, live());
    await vi.advanceTimersByTimeAsync(0);
    expect(await late).toBe(false); // the slot frees up at 1000 ms: beyond the 500 ms given, known at once
    const inTime = q.waitForRoom(2000, live());
    await vi.advanceTimersByTimeAsync(999);
    let settled = false;
    void inTime.then(() => (settled = true));
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await inTime).toBe(true);
    expect(q.hasRoom()).toBe(true); // waiting took nothing
  });

  it('waitForRoom rejects with the reason when the caller cancels', async () => {
    const q = new Quota({ calls: 1, perMs: 1000 });
    q.take();
    const c = new AbortController();
    const waiting = q.waitForRoom(5000, c.signal);
    c.abort(new Error('cancelled upstream'));
    await expect(waiting).rejects.toThrow('cancelled upstream');
  });
});
