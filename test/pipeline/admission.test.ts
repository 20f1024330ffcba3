import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Admission, AdmissionRefused } from '../../src/pipeline/admission.js';

const live = () => new AbortController().signal;

describe('Admission (the bulkhead)', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('runs maxConcurrent, queues maxQueue, and refuses the next at once, naming the limit', async () => {
    const a = new Admission('docs', 2, 4);
    const running = await Promise.all([a.enter(1000, live()), a.enter(1000, live())]);
    expect(running.map((s) => s.waited)).toEqual([false, false]);
    const queued = Array.from({ length: 4 }, () => a.enter(1000, live()));
    const refused = a.enter(1000, live());
    await expect(refused).rejects.toBeInstanceOf(AdmissionRefused);
    await expect(refused).rejects.toThrow("mcpx's queue for docs is full (2 running, 4 waiting; maxConcurrent 2, maxQueue 4)");
    running.forEach((s) => s.release());
    const first = await queued[0]!;
    expect(first.waited).toBe(true);
    expect(a.describe()).toBe('2 running, 2 waiting; maxConcurrent 2, maxQueue 4');
    first.release();
    first.release(); // twice is harmless
    expect(a.describe()).toBe('2 running, 1 waiting; maxConcurrent 2, maxQueue 4');
  });

  it('hands a freed slot to the first waiter (FIFO): a newcomer queues behind, it cannot overtake', async () => {
    const a = new Admission('docs', 1, 2);
    const slot = await a.enter(1000, live());
    const order: string[] = [];
    const wait = (name: string) => a.enter(1000, live()).then((s) => (order.push(name), s));
    const w1 = wait('w1');
    const w2 = wait('w2');
    slot.release();
    const w3 = wait('w3'); // arrives as the slot is handed over: it queues behind w2
    (await w1).release();
    (await w2).release();
    (await w3).release();
    expect(order).toEqual(['w1', 'w2', 'w3']);
    expect(a.describe()).toBe('0 running, 0 waiting; maxConcurrent 1, maxQueue 2');
  });

  it('a waiter that cancels leaves the queue at once, freeing its place', async () => {
    const a = new Admission('docs', 1, 1);
    await a.enter(1000, live());
    const c = new AbortController();
    const waiting = a.enter(1000, c.signal);
    c.abort(new Error('cancelled upstream'));
    await expect(waiting).rejects.toThrow('cancelled upstream');
    expect(a.describe()).toBe('1 running, 0 waiting; maxConcurrent 1, maxQueue 1');
    void a.enter(1000, live()); // its place is free again
    expect(a.describe()).toBe('1 running, 1 waiting; maxConcurrent 1, maxQueue 1');
  });

  it('a waiter whose deadline passes in the queue is refused by mcpx, and leaves it', async () => {
    const a = new Admission('docs', 1, 1);
    await a.enter(1000, live());
    const waiting = a.enter(300, live());
    const seen = expect(waiting).rejects.toThrow("no free slot in mcpx's queue for docs within the call's deadline (waited 300 ms; 1 running, 1 waiting");
    await vi.advanceTimersByTimeAsync(300);
    await seen;
    await expect(waiting).rejects.toBeInstanceOf(AdmissionRefused);
    expect(a.describe()).toBe('1 running, 0 waiting; maxConcurrent 1, maxQueue 1');
  });

  it('maxQueue 0: beyond maxConcurrent a call is refused at once', async () => {
    const a = new Admission('docs', 1, 0);
    await a.enter(1000, live());
    await expect(a.enter(1000, live())).rejects.toThrow("mcpx's queue for docs is full (1 running, 0 waiting; maxConcurrent 1, maxQueue 0)");
  });
});
