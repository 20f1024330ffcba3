import { describe, expect, it } from 'vitest';
import { SingleFlight } from '../../src/cache/singleflight.js';
import { sleep } from './helpers.js';

describe('SingleFlight', () => {
  it('runs N concurrent identical calls once and gives all the same value', async () => {
    const sf = new SingleFlight<number>();
    let calls = 0;
    const fn = async () => { calls++; await sleep(30); return 42; };
    const results = await Promise.all(Array.from({ length: 20 }, () => sf.run('k', fn)));
    expect(calls).toBe(1);
    expect(results).toEqual(Array(20).fill(42));
    expect(sf.size).toBe(0);
  });

  it('keeps different keys apart and runs again once settled', async () => {
    const sf = new SingleFlight<string>();
    let calls = 0;
    const fn = (v: string) => async () => { calls++; await sleep(10); return v; };
    expect(await Promise.all([sf.run('a', fn('a')), sf.run('b', fn('b')), sf.run('a', fn('x'))])).toEqual(['a', 'b', 'a']);
    expect(calls).toBe(2);
    expect(await sf.run('a', fn('again'))).toBe('again');
    expect(calls).toBe(3);
  });

  it('shares a rejection (also a synchronous throw) and then forgets it', async () => {
    const sf = new SingleFlight<number>();
    let calls = 0;
    const failing = async () => { calls++; await sleep(10); throw new Error('child down'); };
    const all = await Promise.allSettled([sf.run('k', failing), sf.run('k', failing)]);
    expect(all.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    await expect(sf.run('k', () => { throw new Error('sync'); })).rejects.toThrow('sync');
    expect(await sf.run('k', async () => 1)).toBe(1);
  });
});
