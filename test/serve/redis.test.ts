// Several mcpx serve processes sharing results through a real redis-server: each process has
// its own children and its own SQLite (catalog, stats, audit), so whatever one finds in the other's
// results came through Redis. The fixture child counts the calls it serves.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MCPX, cacheMeta, fixture, mcpxSessions, tempDir, text, upstreamCalls, waitFor, type Mcpx } from '../helpers/mcpx.js';
import { freePort, redisWithAdmin, startProxy, stopRedis, type RedisAdmin, type RedisServer } from '../helpers/redis.js';

const { start } = mcpxSessions(afterEach);
let redis: RedisServer;
let admin: RedisAdmin;
beforeAll(async () => ({ redis, admin } = await redisWithAdmin()));
afterAll(() => stopRedis(redis, admin));
beforeEach(async () => {
  await admin.flushAll();
});

// A lookup waits up to 1 s here, not 50 ms: on a loaded CI machine a Redis round trip can take longer,
// and a miss would be a call to the child these tests count. The 50 ms bound is tested on the store.
const config = (url = redis.url) => ({ cache: { backend: 'redis', url, lookupTimeoutMs: '1s' }, mcpServers: { a: fixture('a', {}, { cache: { ttl: '1h' } }) } });
const search = (m: Mcpx, query: string) => m.client.callTool({ name: 'a__search', arguments: { query } });

/** A serve process on the test's Redis, its child listed (so its first call does not wait for it). */
async function serving(url = redis.url): Promise<Mcpx> {
  const m = await start(config(url));
  await waitFor(async () => (await m.client.listTools()).tools.some((t) => t.name === 'a__search'), 20_000, 'the child to be listed');
  return m;
}

/** Two serve processes on the same Redis. */
const pair = async (): Promise<[Mcpx, Mcpx]> => Promise.all([serving(), serving()]);

/** `mcpx <args> --config <m's config>` with m's cache and state dirs. */
function cli(m: Mcpx, ...args: string[]) {
  return execa(process.execPath, [MCPX, ...args, '--config', m.configFile], {
    reject: false,
    env: { MCPX_CONFIG: '', NO_COLOR: '1', MCPX_CACHE_DIR: join(m.dir, 'cache'), MCPX_STATE_DIR: join(m.dir, 'state') },
  });
}

/**
 * Waits until Redis holds n entries of server a. A process answers its client before its write reaches
 * Redis (writes are not waited for), so another process asked right after could be told "miss" first.
 */
const stored = (n: number, tool = 'search') =>
  waitFor(async () => {
    const tools = await Promise.all((await admin.sMembers('mcpx:v1:server:a')).map((k) => admin.hGet(k, 'tool')));
    return tools.filter((t) => t === tool).length >= n;
  }, 5000, `${n} entries of ${tool} in Redis`);

const redisWarnings = (m: Mcpx) => m.stderr().split('\n').filter((l) => l.startsWith('mcpx warn: cache: Redis'));

describe('serve with the cache on Redis', () => {
  // upstreamCalls() goes last in each test: `calls` is not read-only, so it drops the server's entries.
  it('two processes share hits: the second is answered from what the first stored, its child never called', async () => {
    const [a, b] = await pair();
    const first = await search(a, 'react hooks');
    expect(cacheMeta(first)).toBeUndefined();
    await stored(1);
    const second = await search(b, 'react hooks');
    expect(cacheMeta(second)).toMatchObject({ status: 'hit', server: 'a' });
    expect(second.content).toEqual(first.content);
    expect(await upstreamCalls(a, 'a')).toBe(1);
    expect(await upstreamCalls(b, 'a')).toBe(0);
    const keys = await admin.keys('*');
    expect(keys.every((k) => k.startsWith('mcpx:v1:'))).toBe(true);
    expect(keys.some((k) => k.includes('react'))).toBe(false);
  }, 90_000);

  it('a write through one process while the other has a slow read out: that read is neither stored in Redis nor kept in memory', async () => {
    const gate = join(tempDir(), 'release');
    const cfg = { ...config(), mcpServers: { a: fixture('a', { STATE_TOOLS: '1' }, { cache: { ttl: '1h' } }) } };
    const [a, b] = await Promise.all([start(cfg), start(cfg)]);
    const slow = a.client.callTool({ name: 'a__get', arguments: { release: gate } });
    await waitFor(() => existsSync(`${gate}.started`), 20_000, 'the read to reach the child');
    await b.client.callTool({ name: 'a__write', arguments: { value: 'new' } });
    writeFileSync(gate, '');
    expect(text(await slow)).toBe('a: initial'); // read before the write landed
    // A later put of A's, sent on the same connection, has landed: so has the slow read's, had it been sent.
    // (Until A has heard of B's write, which may take a moment under load, Redis refuses A's puts as
    // possibly older than the write: safe, so another search is made until one is stored.)
    let n = 0;
    const tools = async () => Promise.all((await admin.sMembers('mcpx:v1:server:a')).map((k) => admin.hGet(k, 'tool')));
    await waitFor(async () => (await search(a, `after ${n++}`), (await tools()).length > 0), 10_000, 'a later search of A stored in Redis');
    expect(new Set(await tools())).toEqual(new Set(['search'])); // so B has nothing to be answered from
    expect(cacheMeta(await a.client.callTool({ name: 'a__get', arguments: { release: gate } }))).toBeUndefined(); // nor A's memory
  }, 90_000);

  it('an invalidation in one process reaches the other: a write, `mcpx cache clear`, resources/updated', async () => {
    const [a, b] = await pair();
    const missesIn = (m: Mcpx, call: () => Promise<unknown>, what: string) =>
      waitFor(async () => cacheMeta(await call()) === undefined, 5000, what);

    // invalidateOnWrite: A writes; B's memory holds the entry until A's invalidation reaches it.
    await search(a, 'q');
    await stored(1);
    expect(cacheMeta(await search(b, 'q'))?.status).toBe('hit');
    await a.client.callTool({ name: 'a__write', arguments: { value: 'new' } });
    await missesIn(b, () => search(b, 'q'), 'B to miss after A wrote');

    // mcpx cache clear, from a third process
    await search(a, 'q2');
    await stored(2); // q (stored again by B after its miss) and q2
    expect(cacheMeta(await search(b, 'q2'))?.status).toBe('hit');
    const clear = await cli(a, 'cache', 'clear', '--json');
    expect(clear.exitCode).toBe(0);
    expect(JSON.parse(clear.stdout)).toMatchObject({ backend: 'redis', removed: 2 }); // q (stored by B) and q2
    await missesIn(b, () => search(b, 'q2'), 'B to miss after cache clear');

    // resources/updated, seen by A's child, drops the resource in B too
    const uri = 'fixture://a/readme';
    await a.client.readResource({ uri });
    await stored(1, uri);
    expect(cacheMeta(await b.client.readResource({ uri }))?.status).toBe('hit');
    await a.client.subscribeResource({ uri }); // the child says "updated" 50 ms later
    await missesIn(b, () => b.client.readResource({ uri }), 'B to miss after resources/updated');
  }, 90_000);

  it('Redis killed mid-run: every call is answered, one warning; sharing resumes after a restart', async () => {
    const [a, b] = await pair();
    await search(a, 'before');
    await stored(1);
    expect(cacheMeta(await search(b, 'before'))?.status).toBe('hit');

    await redis.kill();
    await waitFor(() => redisWarnings(a).length > 0 && redisWarnings(b).length > 0, 5000, 'the warnings');
    for (const m of [a, b]) {
      expect(cacheMeta(await search(m, 'before'))?.status).toBe('hit'); // from memory
      const fresh = await search(m, 'during');
      expect(fresh.isError).toBeFalsy();
      expect(text(fresh)).toMatch(/^a results for during/);
      expect(cacheMeta(await search(m, 'during'))?.status).toBe('hit'); // kept in memory meanwhile
    }

    await redis.start();
    let i = 0;
    await waitFor(async () => {
      const q = `after-${i++}`;
      await search(a, q);
      return cacheMeta(await search(b, q))?.status === 'hit';
    }, 15_000, 'sharing to resume');
    for (const m of [a, b]) {
      await waitFor(() => m.stderr().includes('answers again'), 10_000, 'both connections back');
      expect(redisWarnings(m)).toEqual([expect.stringContaining('is not answering')]);
    }
  }, 90_000);

  it('50 concurrent calls across two processes: 0 errors, each distinct call reaches a child at most once per process', async () => {
    const [a, b] = await pair();
    const round = () => Promise.allSettled(Array.from({ length: 50 }, (_, i) => search(Math.floor(i / 10) % 2 ? a : b, `q${i % 10}`)));
    const results = await round();
    const failed = results.filter((r) => r.status === 'rejected' || r.value.isError);
    expect(failed).toEqual([]);
    results.forEach((r, i) => expect(text((r as PromiseFulfilledResult<unknown>).value)).toMatch(new RegExp(`^a results for q${i % 10} `)));

    const again = await round();
    expect(again.every((r) => r.status === 'fulfilled' && cacheMeta(r.value)?.status === 'hit')).toBe(true);
    // Counted last: `calls` is not read-only, so calling it drops the server's entries (invalidateOnWrite).
    const upstream = (await upstreamCalls(a, 'a')) + (await upstreamCalls(b, 'a'));
    expect(upstream).toBeGreaterThanOrEqual(10);
    expect(upstream).toBeLessThanOrEqual(20);
  }, 90_000);

  it('mcpx cache stats, prune and clear, and doctor, work against Redis', async () => {
    const m = await serving();
    await search(m, 'x');
    await search(m, 'y');
    await stored(2);
    const stats = await cli(m, 'cache', 'stats', '--json');
    expect(stats.exitCode).toBe(0);
    expect(JSON.parse(stats.stdout)).toMatchObject({ backend: 'redis', url: redis.url, entries: 2, servers: [{ server: 'a', entries: 2 }] });
    expect((await cli(m, 'cache', 'stats')).stdout).toMatch(new RegExp(`^${redis.url} \\(Redis [\\d.]+\\): 2 entries`));
    const prune = await cli(m, 'cache', 'prune', '--json');
    expect(JSON.parse(prune.stdout)).toEqual({ backend: 'redis', url: redis.url, removed: 0 });
    const clear = await cli(m, 'cache', 'clear', '--server', 'a', '--json');
    expect(JSON.parse(clear.stdout)).toEqual({ backend: 'redis', url: redis.url, removed: 2, server: 'a' });
    expect(JSON.parse((await cli(m, 'cache', 'stats', '--json')).stdout)).toMatchObject({ entries: 0 });

    const doctor = await cli(m, 'doctor', '--json');
    expect(doctor.exitCode).toBe(0);
    const report = JSON.parse(doctor.stdout);
    expect(report.redis).toMatchObject({ url: redis.url, reachable: true, checks: [{ verdict: 'pass' }] });
    expect(report.redis.latencyMs).toBeGreaterThan(0);
    expect(report.redis.latencyMs).toBeLessThan(50);
    const human = await cli(m, 'doctor');
    expect(human.stdout).toMatch(/Shared cache \(Redis\)\n {2}PASS {2}Redis redis:\/\/127\.0\.0\.1:\d+\/0 [\d.]+: answers PING in [\d.]+ ms, 0 shared entries/);
  }, 90_000);

  it('Redis unreachable: serve answers all the same, the commands fail naming the URL but never its password', async () => {
    const port = await freePort();
    const secret = 'sup3r-secret-pw';
    const m = await serving(`redis://:${secret}@127.0.0.1:${port}/0`);
    const first = await search(m, 'x');
    expect(first.isError).toBeFalsy();
    expect(cacheMeta(await search(m, 'x'))?.status).toBe('hit'); // this process's memory
    await waitFor(() => redisWarnings(m).length > 0, 5000, 'the warning');
    expect(redisWarnings(m)).toEqual([expect.stringContaining(`Redis at redis://****@127.0.0.1:${port}/0 is not answering`)]);

    const stats = await cli(m, 'cache', 'stats');
    expect(stats.exitCode).toBe(1);
    expect(stats.stderr).toContain(`cannot reach Redis at redis://****@127.0.0.1:${port}/0`);
    const doctor = await cli(m, 'doctor', '--json');
    expect(doctor.exitCode).toBe(1);
    expect(JSON.parse(doctor.stdout).redis).toMatchObject({ reachable: false, checks: [{ verdict: 'fail' }] });
    for (const out of [m.stderr(), stats.stdout, stats.stderr, doctor.stdout, doctor.stderr]) expect(out).not.toContain(secret);
  }, 90_000);
});

describe('the shared cache is there from the first call', () => {
  // The server's own cache block: cached whether caching is on by default or opt-in.
  const server = fixture('a', {}, { cache: { ttl: '1h' } });
  /** A session before this one (its own process) stored `query`; its catalog is in the SQLite the next one opens. */
  async function earlierSession(query: string): Promise<string> {
    const m = await start({ cache: { backend: 'redis', url: redis.url }, mcpServers: { a: server } });
    await waitFor(async () => (await m.client.listTools()).tools.some((t) => t.name === 'a__search'), 20_000, 'the child to be listed');
    expect(cacheMeta(await search(m, query))).toBeUndefined();
    await stored(1);
    await m.close();
    return join(m.dir, 'cache');
  }
  /** A new serve process (default lookupTimeoutMs: 50 ms) whose Redis connection goes through `proxyPort`. */
  const newSession = (proxyPort: number, cacheDir: string) =>
    start({ cache: { backend: 'redis', url: `redis://127.0.0.1:${proxyPort}/0` }, mcpServers: { a: server } }, { env: { MCPX_CACHE_DIR: cacheDir } });

  it("a new process connects at start, and its first call waits for Redis's first answer: a hit on what another process stored", async () => {
    const cacheDir = await earlierSession('first round');
    const proxy = await startProxy(redis.port, { hold: true });
    try {
      const m = await newSession(proxy.port, cacheDir);
      await proxy.connected(); // at start: no call has been made yet
      const call = search(m, 'first round');
      // Redis slow to become ready: it answers the connection 200 ms after the call was sent, far past the
      // 50 ms a lookup waits once connected, well within the first connection's bound (1 s after start).
      setTimeout(() => proxy.release(), 200).unref();
      const first = await call;
      expect(cacheMeta(first)).toMatchObject({ status: 'hit', server: 'a' });
      expect(text(first)).toContain('a results for first round');
      expect(await upstreamCalls(m, 'a')).toBe(0);
      expect(m.stderr()).not.toContain('was not connected yet');
    } finally {
      await proxy.close();
    }
  }, 90_000);

  it('a lookup that missed only because Redis was not connected yet is said once', async () => {
    const cacheDir = await earlierSession('q');
    const proxy = await startProxy(redis.port, { hold: true }); // never released: Redis never answers
    try {
      const m = await newSession(proxy.port, cacheDir);
      await proxy.connected();
      const t0 = performance.now();
      expect(cacheMeta(await search(m, 'q'))).toBeUndefined(); // waited for the first connection, then the child answered
      console.log(`first call with Redis not ready: answered after ${(performance.now() - t0).toFixed(0)} ms`);
      expect(cacheMeta(await search(m, 'other'))).toBeUndefined();
      const said = () => redisWarnings(m).filter((l) => l.includes('was not connected yet'));
      await waitFor(() => said().length > 0, 5000, 'the warning');
      expect(said()).toEqual([`mcpx warn: cache: Redis at redis://127.0.0.1:${proxy.port}/0 was not connected yet: a lookup counted as a miss (lookups wait for the first connection up to 1000 ms after start)`]);
      expect(redisWarnings(m)).toHaveLength(1);
    } finally {
      await proxy.close();
    }
  }, 90_000);
});
