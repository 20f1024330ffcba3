import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openDatabase, type CacheDb } from '../../src/cache/db.js';
import { cacheKey } from '../../src/cache/key.js';
import { KEPT_INVALIDATIONS } from '../../src/cache/invalidations.js';
import { SqliteResultStore, startMaintenance, type PutEntry } from '../../src/cache/store.js';
import { tempDir } from './helpers.js';

const result = (text: string) => ({ content: [{ type: 'text', text }] });
const entry = (key: string, over: Partial<PutEntry> = {}): PutEntry =>
  ({ key, server: 's1', tool: 't1', result: result(key), ttlMs: 60_000, staleTtlMs: 60_000, ...over });

afterEach(() => {
  vi.useRealTimers();
});

/** Moves the (faked) clock on: TTLs are decided by Date.now(), and nothing here waits for real time. */
const later = (ms: number) => vi.setSystemTime(Date.now() + ms);

function open(opts: { maxMb?: number; maxEntryBytes?: number } = {}): { cdb: CacheDb; store: SqliteResultStore; dir: string } {
  const dir = tempDir();
  const cdb = openDatabase(dir);
  return { dir, cdb, store: new SqliteResultStore(cdb, { maxEntryBytes: opts.maxEntryBytes ?? 1 << 20, maxMb: opts.maxMb ?? 64 }) };
}

describe('SqliteResultStore', () => {
  it('puts and gets a result, in this process and in a fresh store on the same file', () => {
    const { store, cdb, dir } = open();
    expect(store.get('k')).toBeUndefined();
    expect(store.put(entry('k'))).toBe(true);
    expect(store.get('k')?.result).toEqual(result('k'));
    store.close();
    cdb.close();

    const cdb2 = openDatabase(dir);
    const store2 = new SqliteResultStore(cdb2, { maxEntryBytes: 1 << 20, maxMb: 64 });
    const got = store2.get('k');
    expect(got).toMatchObject({ key: 'k', server: 's1', tool: 't1', result: result('k') });
    expect(got!.bytes).toBe(JSON.stringify(result('k')).length);
    store2.close();
    cdb2.close();
  });

  it('expires after ttl, serves stale until staleTtl, then forgets and prune purges (50 ms TTLs, fake clock)', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { store, cdb, dir } = open();
    store.put(entry('k', { ttlMs: 50, staleTtlMs: 100 }));
    expect(store.get('k')).toBeDefined();
    later(80);
    expect(store.get('k')).toBeUndefined();
    expect(store.getStale('k')?.result).toEqual(result('k'));
    // The same through SQLite, not the in-memory L1:
    const other = new SqliteResultStore(openDatabase(dir), { maxEntryBytes: 1 << 20, maxMb: 64 });
    expect(other.get('k')).toBeUndefined();
    expect(other.getStale('k')).toBeDefined();
    later(100);
    expect(store.getStale('k')).toBeUndefined();
    expect(other.getStale('k')).toBeUndefined();
    expect(store.prune()).toBe(1);
    expect(cdb.db.prepare('SELECT count(*) FROM entries').pluck().get()).toBe(0);
    other.close();
  });

  it('returns a frozen copy: the caller’s object stays its own', () => {
    const { store } = open();
    const mine = result('mine');
    store.put(entry('k', { result: mine }));
    mine.content[0]!.text = 'changed by the caller';
    const got = store.get('k')!;
    expect(got.result).toEqual(result('mine'));
    expect(Object.isFrozen(got.result)).toBe(true);
  });

  it('refuses entries over maxEntryBytes', () => {
    const { store } = open({ maxEntryBytes: 100 });
    expect(store.put(entry('big', { result: result('x'.repeat(200)) }))).toBe(false);
    expect(store.getStale('big')).toBeUndefined();
    expect(store.put(entry('small'))).toBe(true);
  });

  it('invalidates by key, server, tool, server+tool, and everything', () => {
    const { store } = open();
    store.put(entry('a', { server: 's1', tool: 't1' }));
    store.put(entry('b', { server: 's1', tool: 't2' }));
    store.put(entry('c', { server: 's2', tool: 't1' }));
    store.put(entry('d', { server: 's2', tool: 't2' }));
    store.put(entry('e', { server: 's3', tool: 't3' }));
    expect(store.invalidate({ server: 's1', tool: 't1' })).toBe(1);
    expect(store.get('a')).toBeUndefined();
    expect(store.invalidate({ tool: 't1' })).toBe(1); // c
    expect(store.invalidate({ server: 's1' })).toBe(1); // b
    expect(store.invalidate({ key: 'd', server: 'other' })).toBe(0);
    expect(store.invalidate({ key: 'd' })).toBe(1);
    expect(store.get('e')).toBeDefined();
    expect(store.invalidate({})).toBe(1);
    expect(store.stats().entries).toBe(0);
  });

  it('evicts the least recently used entries over maxMb', () => {
    // Cap 10 000 bytes; entries of ~3 000 bytes: three fit.
    const { store, cdb } = open({ maxMb: 10_000 / 1024 / 1024 });
    const big = (k: string): PutEntry => entry(k, { result: { text: k + 'z'.repeat(3000) } });
    const t0 = Date.now();
    store.put(big('a'), t0 + 1);
    store.put(big('b'), t0 + 2);
    store.put(big('c'), t0 + 3);
    expect(store.get('a', t0 + 10)).toBeDefined(); // a is now the most recently used
    store.put(big('d'), t0 + 11); // over the cap: b, the least recently used, goes
    expect(store.flush()).toBe(true); // writes are batched: the cap is kept when they are written
    const keys = cdb.db.prepare('SELECT key FROM entries ORDER BY key').pluck().all();
    expect(keys).toEqual(['a', 'c', 'd']);
    expect(store.stats().bytes).toBeLessThanOrEqual(10_000);
  });

  it('serves hot entries from L1, and drops L1 when another connection invalidates', () => {
    const { store, dir } = open();
    store.put(entry('k'));
    expect(store.get('k')).toBeDefined();
    const raw = new Database(join(dir, 'cache.db'));
    // A delete that does not bump the generation is not seen: proof the hit came from L1.
    raw.prepare('DELETE FROM entries').run();
    expect(store.get('k')).toBeDefined();
    // An invalidation (what every clear does) bumps it: the next lookup misses.
    raw.prepare("UPDATE meta SET value = value + 1 WHERE name = 'generation'").run();
    expect(store.get('k')).toBeUndefined();
    raw.close();
  });

  it('another connection\'s invalidations drop only what they match; a store too far behind drops all of L1', () => {
    const { store, dir } = open();
    store.put(entry('a', { server: 's1' }));
    store.put(entry('b', { server: 's2' }));
    store.put(entry('c', { server: 's2', tool: 't9' }));
    expect(store.flush()).toBe(true);
    const other = new SqliteResultStore(openDatabase(dir), { maxEntryBytes: 1 << 20, maxMb: 64 });
    // Rows gone behind the store's back: what it still serves comes from its L1.
    const raw = new Database(join(dir, 'cache.db'));
    raw.prepare('DELETE FROM entries').run();
    raw.close();
    other.invalidate({ server: 's1' });
    other.invalidate({ tool: 't9' });
    expect(store.get('a')).toBeUndefined();
    expect(store.get('c')).toBeUndefined();
    expect(store.get('b')).toBeDefined();
    for (let i = 0; i <= KEPT_INVALIDATIONS; i++) other.invalidate({ key: `nothing-${i}` });
    expect(store.get('b')).toBeUndefined(); // its records were pruned: it cannot know what went
    other.close();
  });

  it('a changed credential fingerprint or another child misses; arg key order does not matter', () => {
    const { store } = open();
    const base = { identity: 'npx ctx7', credentialFingerprint: 'fp-1', kind: 'tool' as const, name: 'search' };
    const k1 = cacheKey({ ...base, args: { q: 'react', limit: 5, opts: { a: 1, b: 2 } } });
    store.put(entry(k1));
    expect(store.get(cacheKey({ ...base, args: { opts: { b: 2, a: 1 }, limit: 5, q: 'react' } }))).toBeDefined();
    expect(store.get(cacheKey({ ...base, credentialFingerprint: 'fp-2', args: { q: 'react', limit: 5, opts: { a: 1, b: 2 } } }))).toBeUndefined();
    expect(store.get(cacheKey({ ...base, identity: 'npx other', args: { q: 'react', limit: 5, opts: { a: 1, b: 2 } } }))).toBeUndefined();
  });

  it('startMaintenance purges entries past staleTtl in the background until stopped', () => {
    vi.useFakeTimers({ toFake: ['Date', 'setInterval', 'clearInterval'] });
    const { store, cdb } = open();
    const stop = startMaintenance(store, 20);
    store.put(entry('short', { ttlMs: 10, staleTtlMs: 10 }));
    store.put(entry('long'));
    vi.advanceTimersByTime(120); // six maintenance ticks, the clock 120 ms on
    stop();
    expect(cdb.db.prepare('SELECT key FROM entries').pluck().all()).toEqual(['long']);
  });

  it('does not store or serve after close, and never throws', () => {
    const { store } = open();
    store.close();
    expect(store.put(entry('k'))).toBe(false);
    expect(store.get('k')).toBeUndefined();
  });
});
