// Whose answer a cache entry is (src/pipeline/cache-keys.ts), through the pipeline: two processes
// (pipelines) on one store whose children run with different or identical credentials, `cache.scope`,
// a 2026 child's cacheScope advice, the caller of a private entry, and single flight per caller.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { userInfo } from 'node:os';
import { liftCacheAdvice } from '../../src/children/advice.js';
import { localCaller } from '../../src/util/caller.js';
import type { CallEvent } from '../../src/pipeline/call.js';
import { FakeChild, MemoryStore, live, ok, pipelineWith, serverConfig, textOf, until } from './helpers.js';

const read = (text: string) => ({ kind: 'tool' as const, params: { name: 'docs__read', arguments: { text } } });
const resource = { kind: 'resource' as const, params: { uri: 'docs://readme' } };
const cached = { cache: { ttl: '1h' } };

/** One process: its own child (with these credentials) and pipeline, on the shared store. */
function process_(store: MemoryStore, credentials: string | undefined, entry: Record<string, unknown> = cached, era: 'legacy' | 'modern' = 'legacy') {
  const child = new FakeChild(serverConfig('docs', entry));
  child.credentials = credentials;
  child.era = era;
  const { pipeline } = pipelineWith(child, { store });
  const outcomes: CallEvent['outcome'][] = [];
  pipeline.on('call', (e) => outcomes.push(e.outcome));
  return { child, pipeline, outcomes };
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('per credential (the default)', () => {
  it('different credentials never share an answer; identical ones do', async () => {
    const store = new MemoryStore();
    const a = process_(store, 'token-a');
    a.child.auto = (r) => r.answer(ok('A\'s private answer'));
    expect(textOf(await a.pipeline.run(read('q'), { signal: live() }))).toBe('A\'s private answer');

    const b = process_(store, 'token-b');
    b.child.auto = (r) => r.answer(ok('B\'s answer'));
    expect(textOf(await b.pipeline.run(read('q'), { signal: live() }))).toBe('B\'s answer');
    expect(b.outcomes).toEqual(['ok']);

    const a2 = process_(store, 'token-a');
    expect(textOf(await a2.pipeline.run(read('q'), { signal: live() }))).toBe('A\'s private answer');
    expect(a2.outcomes).toEqual(['hit']);
    expect(a2.child.received).toHaveLength(0);
  });

  it('no key holds a credential, and none is made while the salt is not known: nothing per credential is cached then', async () => {
    const store = new MemoryStore();
    const a = process_(store, 'token-a');
    a.child.auto = (r) => r.answer(ok('x'));
    await a.pipeline.run(read('q'), { signal: live() });
    expect([...store.entries.keys()].join()).not.toContain('token-a');

    const noSalt = new FakeChild(serverConfig('docs', cached));
    noSalt.auto = (r) => r.answer(ok('y'));
    const { pipeline } = pipelineWith(noSalt, { store, keySalt: () => undefined });
    await pipeline.run(read('other'), { signal: live() });
    await pipeline.run(read('other'), { signal: live() });
    expect(noSalt.received).toHaveLength(2);
    expect(store.entries.size).toBe(1);
  });

  it('credentials not known before the child connects (a command prints them): not looked up, stored once known', async () => {
    const store = new MemoryStore();
    const a = process_(store, undefined);
    a.child.auto = (r) => {
      a.child.credentials = 'printed-by-the-helper'; // the connect ran headersHelper
      r.answer(ok('x'));
    };
    await a.pipeline.run(read('q'), { signal: live() });
    await a.pipeline.run(read('q'), { signal: live() });
    expect(a.outcomes).toEqual(['ok', 'hit']);
  });
});

describe('public', () => {
  it('cache.scope "public" shares one entry between different credentials', async () => {
    const store = new MemoryStore();
    const pub = { cache: { ttl: '1h', scope: 'public' } };
    const a = process_(store, 'token-a', pub);
    a.child.auto = (r) => r.answer(ok('the docs'));
    await a.pipeline.run(read('q'), { signal: live() });
    const b = process_(store, 'token-b', pub);
    expect(textOf(await b.pipeline.run(read('q'), { signal: live() }))).toBe('the docs');
    expect(b.outcomes).toEqual(['hit']);
  });

  it('a 2026 child\'s cacheScope "public" shares that result; a 2025 child gives no such advice', async () => {
    const store = new MemoryStore();
    const a = process_(store, 'token-a', cached, 'modern');
    a.child.auto = (r) => r.answer(liftCacheAdvice({ contents: [{ uri: 'docs://readme', text: 'public page' }], cacheScope: 'public' }));
    await a.pipeline.run(resource, { signal: live(), caller: 'alice' });
    const b = process_(store, 'token-b', cached, 'modern');
    await b.pipeline.run(resource, { signal: live(), caller: 'bob' });
    expect(b.outcomes).toEqual(['hit']);
  });
});

describe('private (a 2026 child\'s cacheScope "private")', () => {
  const privatePage = () => liftCacheAdvice({ contents: [{ uri: 'docs://readme', text: 'alice\'s page' }], cacheScope: 'private' });

  it('is served to its caller only, even with identical credentials and a public server', async () => {
    const store = new MemoryStore();
    const team = process_(store, 'team-token', { cache: { ttl: '1h', scope: 'public' } }, 'modern');
    team.child.auto = (r) => r.answer(privatePage());
    await team.pipeline.run(resource, { signal: live(), caller: 'alice' });
    await team.pipeline.run(resource, { signal: live(), caller: 'alice' });
    expect(team.outcomes).toEqual(['ok', 'hit']);
    team.child.auto = (r) => r.answer(liftCacheAdvice({ contents: [{ uri: 'docs://readme', text: 'bob\'s page' }], cacheScope: 'private' }));
    const bob = await team.pipeline.run(resource, { signal: live(), caller: 'bob' });
    expect(bob).toEqual({ contents: [{ uri: 'docs://readme', text: 'bob\'s page' }] });
    expect(team.outcomes).toEqual(['ok', 'hit', 'ok']);
  });

  it('with no caller known, is not stored at all', async () => {
    const store = new MemoryStore();
    const p = process_(store, 'token', cached, 'modern');
    p.child.auto = (r) => r.answer(privatePage());
    await p.pipeline.run(resource, { signal: live() });
    await p.pipeline.run(resource, { signal: live() });
    expect(p.outcomes).toEqual(['ok', 'ok']);
    expect(store.entries.size).toBe(0);
  });

  it('single flight: a 2026 child\'s identical calls are shared by one caller\'s calls only, and by none without a caller', async () => {
    const store = new MemoryStore();
    const p = process_(store, 'token', cached, 'modern');
    const calls = [
      p.pipeline.run(read('q'), { signal: live(), caller: 'alice' }),
      p.pipeline.run(read('q'), { signal: live(), caller: 'alice' }),
      p.pipeline.run(read('q'), { signal: live(), caller: 'bob' }),
      p.pipeline.run(read('q'), { signal: live() }),
      p.pipeline.run(read('q'), { signal: live() }),
    ];
    await until(() => p.child.received.length === 4, 'one child call for alice, one for bob, one each without a caller');
    for (const r of p.child.received) r.answer(ok('x'));
    await Promise.all(calls);
    expect(p.child.received).toHaveLength(4);
  });

  it('a 2025 child\'s identical calls from different callers share one child call (its answers are per credential)', async () => {
    const p = process_(new MemoryStore(), 'token');
    const calls = [p.pipeline.run(read('q'), { signal: live(), caller: 'alice' }), p.pipeline.run(read('q'), { signal: live(), caller: 'bob' })];
    await until(() => p.child.received.length === 1);
    p.child.received[0]!.answer(ok('x'));
    await Promise.all(calls);
    expect(p.child.received).toHaveLength(1);
  });
});

describe('the caller', () => {
  it('on stdio and in the CLI is the local user, the same for every call of the process', () => {
    expect(localCaller()).toBe(`local:${userInfo().username}`);
    expect(localCaller()).toBe(localCaller());
  });
});
