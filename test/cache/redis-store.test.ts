// The result store contract, run against both backends (SQLite in a temp dir, a real redis-server of the
// test's own), then what only Redis does: namespaced keys, expiry on Redis, invalidations reaching every
// process's L1, and a Redis that is slow or gone never being in the way.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../../src/cache/db.js';
import { cacheKey } from '../../src/cache/key.js';
import { RedisResultStore, type RedisStoreOptions } from '../../src/cache/redis.js';
import { SqliteResultStore, type PutEntry, type ResultStore } from '../../src/cache/store.js';
import { redisWithAdmin, startProxy, stopRedis, type RedisAdmin, type RedisServer } from '../helpers/redis.js';
import { captureLog, tempDir } from './helpers.js';

const result = (text: string) => ({ content: [{ type: 'text', text }] });
const entry = (key: string, over: Partial<PutEntry> = {}): PutEntry =>
  ({ key, server: 's1', tool: 't1', result: result(key), ttlMs: 60_000, staleTtlMs: 60_000, ...over });

let redis: RedisServer;
let admin: RedisAdmin;
const opened: ResultStore[] = [];
const databases: { close(): void }[] = [];

beforeAll(async () => ({ redis, admin } = await redisWithAdmin()));
afterAll(() => stopRedis(redis, admin));
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
  for (const d of databases.splice(0)) d.close();
});

function track<T extends ResultStore>(s: T): T {
  opened.push(s);
  return s;
}

/** A Redis store as serve opens one, connected and listening. */
async function redisStore(over: Partial<RedisStoreOptions> = {}): Promise<RedisResultStore> {
  const s = track(new RedisResultStore({ url: redis.url, maxEntryBytes: 1 << 20, ...over }));
  expect(await s.connected()).toBe(true);
  return s;
}

/** What another process sees: at once with SQLite; with Redis after its own connection and pub/sub catch up. */
const eventually = (check: () => Promise<void>) => vi.waitFor(check, { timeout: 3000 });

interface Backend {
  name: string;
  /** A store, and a second one on the same data as another process would open it (its own L1). */
  open(opts?: { maxEntryBytes?: number }): Promise<{ store: ResultStore; other: () => Promise<ResultStore> }>;
}

const sqlite: Backend = {
  name: 'SQLite',
  async open(opts = {}) {
    const dir = tempDir();
    const make = () => {
      const cdb = openDatabase(dir);
      databases.push(cdb);
      return track(new SqliteResultStore(cdb, { maxEntryBytes: opts.maxEntryBytes ?? 1 << 20, maxMb: 64 }));
    };
    return { store: make(), other: async () => make() };
  },
};

const onRedis: Backend = {
  name: 'Redis',
  async open(opts = {}) {
    await admin.flushAll();
    const make = () => redisStore({ maxEntryBytes: opts.maxEntryBytes ?? 1 << 20 });
    return { store: await make(), other: make };
  },
};

describe.each([sqlite, onRedis])('result store contract: $name', (backend) => {
  it('puts and gets a result; another process on the same data gets it too', async () => {
    const { store, other } = await backend.open();
    expect(await store.get('k')).toBeUndefined();
    expect(store.put(entry('k'))).toBe(true);
    expect((await store.get('k'))?.result).toEqual(result('k'));
    const o = await other();
    await eventually(async () => {
      const got = await o.get('k');
      expect(got).toMatchObject({ key: 'k', server: 's1', tool: 't1', result: result('k') });
      expect(got!.bytes).toBe(JSON.stringify(result('k')).length);
    });
  });

  it('is fresh until ttl, stale until staleTtl, then gone (here and in another process)', async () => {
    const { store, other } = await backend.open();
    const t0 = Date.now();
    store.put(entry('k', { ttlMs: 10_000, staleTtlMs: 10_000 }), t0);
    for (const s of [store, await other()]) {
      await eventually(async () => expect(await s.get('k', t0 + 5_000)).toBeDefined());
      expect(await s.get('k', t0 + 15_000)).toBeUndefined();
      expect((await s.getStale('k', t0 + 15_000))?.result).toEqual(result('k'));
      expect(await s.getStale('k', t0 + 25_000)).toBeUndefined();
    }
  });

  it('returns a frozen copy: the caller’s object stays its own', async () => {
    const { store, other } = await backend.open();
    const mine = result('mine');
    store.put(entry('k', { result: mine }));
    mine.content[0]!.text = 'changed by the caller';
    for (const s of [store, await other()]) {
      await eventually(async () => {
        const got = (await s.get('k'))!;
        expect(got.result).toEqual(result('mine'));
        expect(Object.isFrozen(got.result)).toBe(true);
      });
    }
  });

  it('refuses entries over maxEntryBytes and values that are not JSON', async () => {
    const { store, other } = await backend.open({ maxEntryBytes: 100 });
    expect(store.put(entry('big', { result: result('x'.repeat(200)) }))).toBe(false);
    expect(store.put(entry('odd', { result: { n: 1n } }))).toBe(false);
    expect(store.put(entry('small'))).toBe(true);
    const o = await other();
    await eventually(async () => expect(await o.getStale('small')).toBeDefined());
    expect(await o.getStale('big')).toBeUndefined();
    expect(await o.getStale('odd')).toBeUndefined();
  });

  it('refuses a put whose call was sent before an invalidation that drops it, made here or by another process; keeps the rest', async () => {
    const { store, other } = await backend.open();
    const o = await other();
    // Here: the write's invalidation comes while the read is out.
    const began = store.mark();
    await store.invalidate({ server: 's1' });
    expect(store.put(entry('here', { since: began }))).toBe(false);
    expect(store.put(entry('kept-here', { server: 's2', since: began }))).toBe(true);
    // Another process: its invalidation may not have reached this one by the time of the put.
    const before = store.mark();
    await o.invalidate({ server: 's1' });
    store.put(entry('there', { since: before }));
    store.put(entry('kept-there', { server: 's2', since: before }));
    // Once this process has heard of it, a call sent after it (in a later millisecond) is kept as ever.
    await eventually(async () => {
      await store.get('nothing'); // SQLite catches up on a lookup; Redis hears it on its channel
      expect(store.mark().seq).toBe(o.mark().seq);
    });
    const at = Date.now();
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(at));
    store.put(entry('after', { since: store.mark() }));
    const third = await other();
    await eventually(async () => {
      for (const k of ['kept-here', 'kept-there', 'after']) expect((await third.get(k))?.key).toBe(k);
    });
    // Written in order with the ones kept: never stored, and gone from this process's memory too.
    for (const s of [third, o, store]) {
      await eventually(async () => {
        expect(await s.get('here')).toBeUndefined();
        expect(await s.get('there')).toBeUndefined();
      });
    }
  });

  it('invalidates by key, server, tool, server+tool, and everything, for every process', async () => {
    const { store, other } = await backend.open();
    store.put(entry('a', { server: 's1', tool: 't1' }));
    store.put(entry('b', { server: 's1', tool: 't2' }));
    store.put(entry('c', { server: 's2', tool: 't1' }));
    store.put(entry('d', { server: 's2', tool: 't2' }));
    store.put(entry('e', { server: 's3', tool: 't3' }));
    store.put(entry('f', { server: 's3', tool: 't3' }));
    const o = await other();
    const left = async () => {
      const keys: string[] = [];
      for (const k of ['a', 'b', 'c', 'd', 'e', 'f']) if (await o.getStale(k)) keys.push(k);
      return keys;
    };
    await eventually(async () => expect(await left()).toEqual(['a', 'b', 'c', 'd', 'e', 'f']));
    expect(await store.invalidate({ server: 's1', tool: 't1' })).toBe(1);
    expect(await store.invalidate({ tool: 't2' })).toBe(2);
    expect(await store.invalidate({ key: 'e', server: 's1' })).toBe(0); // the key is not s1's
    expect(await store.invalidate({ key: 'e' })).toBe(1);
    await eventually(async () => expect(await left()).toEqual(['c', 'f']));
    expect(await store.getStale('a')).toBeUndefined(); // gone from this process's memory too
    expect(await store.invalidate({ server: 's2' })).toBe(1);
    expect(await store.invalidate({})).toBe(1);
    await eventually(async () => expect(await left()).toEqual([]));
  });

  it('sums entries and bytes per server', async () => {
    const { store } = await backend.open();
    store.put(entry('a', { server: 's1' }));
    store.put(entry('b', { server: 's1' }));
    store.put(entry('c', { server: 's2' }));
    const bytes = JSON.stringify(result('a')).length;
    await eventually(async () => expect((await store.stats()).entries).toBe(3)); // Redis: writes are not waited for
    const s = await store.stats();
    expect(s.bytes).toBe(3 * bytes);
    expect(s.servers.map((x) => [x.server, x.entries, x.bytes])).toEqual([['s1', 2, 2 * bytes], ['s2', 1, bytes]]);
    expect(s.servers[0]!.oldestStoredAt).toBeGreaterThan(0);
  });
});

describe('RedisResultStore', () => {
  beforeEach(async () => {
    await admin.flushAll();
  });

  it('keys are mcpx:v1: plus the hashed key, never an argument; the stale deadline is the key’s expiry', async () => {
    const store = await redisStore();
    const key = cacheKey({ identity: 'id', credentialFingerprint: 'fp', kind: 'tool', name: 'search', args: { password: 'hunter2-secret' } });
    const before = Date.now();
    store.put(entry(key, { ttlMs: 60_000, staleTtlMs: 3_600_000 }));
    await vi.waitFor(async () => expect(await admin.exists(`mcpx:v1:${key}`)).toBe(1));
    expect((await admin.keys('*')).sort()).toEqual([`mcpx:v1:${key}`, 'mcpx:v1:salt', 'mcpx:v1:server:s1']);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const pttl = await admin.pTTL(`mcpx:v1:${key}`);
    // The stale deadline (ttl + staleTtl) as PX: what is left of it is at least the whole less the time gone since the put.
    expect(pttl).toBeGreaterThanOrEqual(3_660_000 - (Date.now() - before) - 1);
    expect(pttl).toBeLessThanOrEqual(3_660_000);
    expect(await admin.pTTL('mcpx:v1:server:s1')).toBeGreaterThan(pttl - 1000); // the index lives as long as its longest entry
    const h = await admin.hGetAll(`mcpx:v1:${key}`);
    expect(Number(h.expiresAt) - Number(h.storedAt)).toBe(60_000); // the fresh deadline is in the value
    expect(Number(h.storedAt)).toBeGreaterThanOrEqual(before);
  });

  it('the key salt is one for every process on this Redis, made by the first, and a clear of everything leaves it', async () => {
    await admin.del('mcpx:v1:salt');
    const [a, b] = await Promise.all([redisStore(), redisStore()]);
    const saltA = await a.keySalt();
    expect(saltA).toHaveLength(32);
    expect((await b.keySalt())!.equals(saltA!)).toBe(true);
    expect(await admin.get('mcpx:v1:salt')).toBe(saltA!.toString('hex'));
    await a.invalidate({});
    const c = await redisStore();
    expect((await c.keySalt())!.equals(saltA!)).toBe(true);
  });

  it('Redis forgets an entry at its stale deadline; prune forgets the index reference', async () => {
    const store = await redisStore();
    store.put(entry('long'));
    store.put(entry('short', { ttlMs: 20, staleTtlMs: 20 }));
    await vi.waitFor(async () => expect(await admin.sCard('mcpx:v1:server:s1')).toBe(2));
    await vi.waitFor(async () => expect(await admin.exists('mcpx:v1:short')).toBe(0));
    expect(await store.prune()).toBe(1);
    expect(await admin.sMembers('mcpx:v1:server:s1')).toEqual(['mcpx:v1:long']);
  });

  it('an invalidation in one process reaches the memory (L1) of the others, through pub/sub', async () => {
    const a = await redisStore();
    const b = await redisStore();
    for (const k of ['k1', 'k2', 'k3']) a.put(entry(k, { tool: k === 'k3' ? 't3' : 't1' }));
    for (const k of ['k1', 'k2', 'k3']) await vi.waitFor(async () => expect(await b.get(k)).toBeDefined());
    // Now in B's L1: answered synchronously, without Redis.
    expect(b.get('k1')).not.toBeInstanceOf(Promise);
    expect(b.get('k1')).toBeDefined();

    await a.invalidate({ key: 'k1' });
    await vi.waitFor(() => expect(b.get('k1')).toBeInstanceOf(Promise)); // dropped from B's L1
    expect(await b.get('k1')).toBeUndefined();
    expect(b.get('k2')).toBeDefined();

    await a.invalidate({ server: 's1', tool: 't3' });
    await vi.waitFor(() => expect(b.get('k3')).toBeInstanceOf(Promise));
    expect(b.get('k2')).not.toBeInstanceOf(Promise);

    await a.invalidate({ server: 's1' });
    await vi.waitFor(() => expect(b.get('k2')).toBeInstanceOf(Promise));
    expect(await b.get('k2')).toBeUndefined();
  });

  it('a lookup never waits long on a stuck Redis: a miss after ~50 ms, L1 still answers, one warning', async () => {
    const { log, lines } = captureLog();
    const store = await redisStore({ log });
    store.put(entry('hot'));
    expect(await store.get('hot')).toBeDefined();
    process.kill(redis.pid()!, 'SIGSTOP'); // the connection stays open; nothing answers
    try {
      for (let i = 0; i < 3; i++) {
        // Redis is stopped until the finally below: answering at all proves the lookup did not wait on it.
        const t0 = performance.now();
        expect(await store.get(`cold-${i}`)).toBeUndefined();
        console.log(`lookup with Redis stopped: a miss after ${(performance.now() - t0).toFixed(0)} ms`);
      }
      expect(store.get('hot')).toMatchObject({ key: 'hot' }); // from memory, at once
      expect(store.put(entry('new'))).toBe(true); // not waited for
    } finally {
      process.kill(redis.pid()!, 'SIGCONT');
    }
    expect(lines.filter((l) => l.includes('warn'))).toEqual([expect.stringContaining('could not answer within 50 ms')]);
  });

  it('cut off from Redis: memory and writes go on, one warning; when back, what it missed is sent and sharing resumes', async () => {
    const proxy = await startProxy(redis.port);
    try {
      const { log, lines } = captureLog();
      const a = await redisStore({ url: `redis://127.0.0.1:${proxy.port}/0`, log });
      const b = await redisStore();
      a.put(entry('k1'));
      await vi.waitFor(async () => expect(await b.get('k1')).toBeDefined());

      await proxy.cut();
      await vi.waitFor(() => expect(a.reachable).toBe(false));
      expect(a.get('k1')).toMatchObject({ key: 'k1' }); // L1, synchronously
      expect(a.get('elsewhere')).toBeUndefined(); // no wait at all while Redis is gone
      expect(a.put(entry('k2'))).toBe(true);
      expect(a.get('k2')).toMatchObject({ key: 'k2' });
      expect(await a.invalidate({ server: 's1' })).toBe(0); // kept for later
      expect(a.get('k1')).toBeUndefined();
      expect(await b.get('k1')).toBeDefined(); // Redis has not heard of it yet
      const warnings = lines.filter((l) => l.includes('warn'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain(`Redis at redis://127.0.0.1:${proxy.port}/0 is not answering`);

      await proxy.restore();
      await vi.waitFor(() => expect(a.reachable).toBe(true), { timeout: 5000 });
      await vi.waitFor(async () => expect(await b.get('k1')).toBeUndefined(), { timeout: 5000 }); // sent, and B's L1 told
      a.put(entry('k3'));
      await vi.waitFor(async () => expect(await b.get('k3')).toBeDefined());
      expect(lines.filter((l) => l.includes('warn'))).toHaveLength(1);
      expect(lines.some((l) => l.includes('answers again'))).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('Redis not up yet at start: the first lookups wait for the first connection (refusals retried), and hit', async () => {
    const writer = await redisStore();
    writer.put(entry('k'));
    await vi.waitFor(async () => expect(await admin.exists('mcpx:v1:k')).toBe(1));
    const proxy = await startProxy(redis.port);
    await proxy.cut(); // nothing listens there yet: the first attempt is refused
    try {
      const { log, lines } = captureLog();
      const store = track(new RedisResultStore({ url: `redis://127.0.0.1:${proxy.port}/0`, maxEntryBytes: 1 << 20, log }));
      const lookup = store.get('k');
      expect(lookup).toBeInstanceOf(Promise);
      await vi.waitFor(() => expect(lines.some((l) => l.includes('is not answering'))).toBe(true)); // refused
      await proxy.restore(); // Redis is there now: the next retry connects
      expect(await lookup).toMatchObject({ key: 'k' });
      expect(lines.some((l) => l.includes('was not connected yet'))).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it('Redis down from the start: no wait, no error, one warning', async () => {
    const { log, lines } = captureLog();
    const store = track(new RedisResultStore({ url: 'redis://127.0.0.1:1/0', maxEntryBytes: 1 << 20, log }));
    expect(await store.connected(1000)).toBe(false);
    expect(store.get('k')).toBeUndefined();
    expect(store.put(entry('k'))).toBe(true);
    expect(store.get('k')).toMatchObject({ key: 'k' });
    expect(await store.invalidate({})).toBe(0);
    expect(lines.filter((l) => l.includes('warn'))).toEqual([expect.stringContaining('Redis at redis://127.0.0.1:1/0 is not answering')]);
  });
});
