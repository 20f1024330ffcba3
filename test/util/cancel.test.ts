// Cancel stands in for an AbortController and its signal on the forwarded call's path: for everything
// mcpx's own code does with a signal, it behaves as the real pair does (each case run on both).
import { describe, expect, it } from 'vitest';
import { Cancel, abortSignal } from '../../src/util/cancel.js';

type Pair = { signal: AbortSignal; abort(reason?: unknown): void };
const both: [string, () => Pair][] = [
  ['AbortController', () => new AbortController()],
  ['Cancel', () => new Cancel()],
];

describe.each(both)('%s', (_name, make) => {
  it('tells function and handleEvent listeners once, in order, with the reason; a removed one is not told', () => {
    const c = make();
    const heard: string[] = [];
    const fn = () => heard.push(`fn ${String(c.signal.reason)}`);
    const obj = { handleEvent: () => heard.push('object') };
    const gone = () => heard.push('removed');
    c.signal.addEventListener('abort', fn, { once: true });
    c.signal.addEventListener('abort', obj);
    c.signal.addEventListener('abort', fn); // the same listener twice: told once
    c.signal.addEventListener('abort', gone);
    c.signal.removeEventListener('abort', gone);
    expect(c.signal.aborted).toBe(false);
    expect(() => c.signal.throwIfAborted()).not.toThrow();
    c.abort('why');
    c.abort('again'); // a second abort changes nothing
    expect(heard).toEqual(['fn why', 'object']);
    expect(c.signal.aborted).toBe(true);
    expect(c.signal.reason).toBe('why');
    expect(() => c.signal.throwIfAborted()).toThrow('why');
  });

  it('gives an AbortError when aborted without a reason, and tells no listener added after the abort', () => {
    const c = make();
    c.abort();
    expect((c.signal.reason as Error).name).toBe('AbortError');
    let late = false;
    c.signal.addEventListener('abort', () => (late = true));
    expect(late).toBe(false);
  });
});

describe('Cancel.abortSignal: a real AbortSignal for a library', () => {
  it('follows an abort that comes later, or one that came before', () => {
    const later = new Cancel();
    const real = abortSignal(later.signal);
    expect(real).toBeInstanceOf(AbortSignal);
    expect(abortSignal(later.signal)).toBe(real); // made once
    later.abort('stop');
    expect(real.aborted).toBe(true);
    expect(real.reason).toBe('stop');
    const before = new Cancel();
    before.abort('done');
    expect(abortSignal(before.signal).reason).toBe('done');
  });

  it('passes a real signal through as it is', () => {
    const c = new AbortController();
    expect(abortSignal(c.signal)).toBe(c.signal);
    expect(abortSignal(undefined)).toBeUndefined();
  });

  it('tells the other listeners when one throws', async () => {
    const c = new Cancel();
    const heard: number[] = [];
    const thrown = new Promise((resolve) => process.once('uncaughtException', resolve));
    c.signal.addEventListener('abort', () => {
      throw new Error('listener failed');
    });
    c.signal.addEventListener('abort', () => heard.push(2));
    c.abort();
    expect(heard).toEqual([2]);
    expect(((await thrown) as Error).message).toBe('listener failed');
  });
});
