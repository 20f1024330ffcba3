import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../src/cache/singleflight.js';

/** A promise settled by the test, and the signal the shared run was given. */
function shared<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  const run = { calls: 0, signal: undefined as AbortSignal | undefined, resolve, reject };
  const fn = (signal: AbortSignal) => {
    run.calls++;
    run.signal = signal;
    return promise;
  };
  return { run, fn };
}
const live = () => new AbortController().signal;

describe('SingleFlight', () => {
  it('runs N concurrent identical calls once and gives all the same value', async () => {
    const sf = new SingleFlight<number>();
    const { run, fn } = shared<number>();
    const all = Promise.all(Array.from({ length: 20 }, () => sf.run('k', live(), fn)));
    run.resolve(42);
    expect(await all).toEqual(Array(20).fill(42));
    expect(run.calls).toBe(1);
    expect(sf.size).toBe(0);
  });

  it('keeps different keys apart and runs again once settled', async () => {
    const sf = new SingleFlight<string>();
    let calls = 0;
    const fn = (v: string) => async () => (calls++, v);
    expect(await Promise.all([sf.run('a', live(), fn('a')), sf.run('b', live(), fn('b')), sf.run('a', live(), fn('x'))])).toEqual(['a', 'b', 'a']);
    expect(calls).toBe(2);
    expect(await sf.run('a', live(), fn('again'))).toBe('again');
    expect(calls).toBe(3);
  });

  it('shares a rejection (also a synchronous throw) and then forgets it', async () => {
    const sf = new SingleFlight<number>();
    const { run, fn } = shared<number>();
    const all = Promise.allSettled([sf.run('k', live(), fn), sf.run('k', live(), fn)]);
    run.reject(new Error('child down'));
    expect((await all).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(run.calls).toBe(1);
    await expect(sf.run('k', live(), () => { throw new Error('sync'); })).rejects.toThrow('sync');
    expect(await sf.run('k', live(), async () => 1)).toBe(1);
  });

  it('a caller that cancels leaves at once; the other still gets the answer, and the shared run is not aborted', async () => {
    const sf = new SingleFlight<string>();
    const { run, fn } = shared<string>();
    const gone = new AbortController();
    const first = sf.run('k', gone.signal, fn);
    const second = sf.run('k', live(), fn);
    gone.abort(new Error('cancelled upstream'));
    await expect(first).rejects.toThrow('cancelled upstream');
    expect(run.signal!.aborted).toBe(false);
    run.resolve('answer');
    expect(await second).toBe('answer');
  });

  it('aborts the shared run only when every caller has gone; a later identical call starts afresh', async () => {
    const sf = new SingleFlight<string>();
    const { run, fn } = shared<string>();
    const callers = [new AbortController(), new AbortController()];
    const pending = callers.map((c) => sf.run('k', c.signal, fn));
    callers[0]!.abort();
    expect(run.signal!.aborted).toBe(false);
    callers[1]!.abort();
    expect(run.signal!.aborted).toBe(true);
    await Promise.allSettled(pending);
    expect(sf.size).toBe(0);
    expect(await sf.run('k', live(), async () => 'fresh')).toBe('fresh');
    run.reject(new Error('aborted')); // the abandoned run settles later, with nobody listening: no unhandled rejection
  });

  it('a caller already cancelled does not start or join anything', async () => {
    const sf = new SingleFlight<number>();
    const gone = new AbortController();
    gone.abort(new Error('too late'));
    let calls = 0;
    await expect(sf.run('k', gone.signal, async () => ++calls)).rejects.toThrow('too late');
    expect(calls).toBe(0);
    expect(sf.size).toBe(0);
  });
});
