import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../src/cache/singleflight.js';

/** A promise the test settles when it chooses: the shared call stays in flight until then. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { opened, open };
}

describe('SingleFlight', () => {
  it('runs N concurrent identical calls once and gives all the same value', async () => {
    const sf = new SingleFlight<number>();
    const g = gate();
    let calls = 0;
    const fn = async () => { calls++; await g.opened; return 42; };
    const all = Promise.all(Array.from({ length: 20 }, () => sf.run('k', fn)));
    expect(sf.size).toBe(1);
    g.open();
    const results = await all;
    expect(calls).toBe(1);
    expect(results).toEqual(Array(20).fill(42));
    expect(sf.size).toBe(0);
  });

  it('keeps different keys apart and runs again once settled', async () => {
    const sf = new SingleFlight<string>();
    const g = gate();
    let calls = 0;
    const fn = (v: string) => async () => { calls++; await g.opened; return v; };
    const first = Promise.all([sf.run('a', fn('a')), sf.run('b', fn('b')), sf.run('a', fn('x'))]);
    g.open();
    expect(await first).toEqual(['a', 'b', 'a']);
    expect(calls).toBe(2);
    expect(await sf.run('a', fn('again'))).toBe('again');
    expect(calls).toBe(3);
  });

  it('shares a rejection (also a synchronous throw) and then forgets it', async () => {
    const sf = new SingleFlight<number>();
    const g = gate();
    let calls = 0;
    const failing = async () => { calls++; await g.opened; throw new Error('child down'); };
    const both = Promise.allSettled([sf.run('k', failing), sf.run('k', failing)]);
    g.open();
    expect((await both).map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    await expect(sf.run('k', () => { throw new Error('sync'); })).rejects.toThrow('sync');
    expect(await sf.run('k', async () => 1)).toBe(1);
  });
});
