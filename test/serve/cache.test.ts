// The disk cache seen through real mcpx serve processes and real children.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { MCPX, cacheMeta, fixture, mcpxSessions, tempDir, text, upstreamCalls, waitFor, type Mcpx } from '../helpers/mcpx.js';

const { start, stop } = mcpxSessions(afterEach);
/** The fixture child with caching asked for, as a user turns it on (caching is opt-in). */
const cached = (name: string, env: Record<string, string> = {}, extra: Record<string, unknown> = {}) => fixture(name, env, { cache: { ttl: '1h' }, ...extra });


describe('cache through mcpx serve', () => {
  it('answers a repeated read-only call from the cache without reaching the child, whatever the argument order', async () => {
    const m = await start({ mcpServers: { a: cached('a') } });
    const first = await m.client.callTool({ name: 'a__search', arguments: { query: 'react hooks', page: 1 } });
    expect(cacheMeta(first)).toBeUndefined();
    const second = await m.client.callTool({ name: 'a__search', arguments: { page: 1, query: 'react hooks' } });
    expect(second.content).toEqual(first.content);
    expect(cacheMeta(second)).toMatchObject({ status: 'hit', server: 'a' });
    expect(typeof cacheMeta(second)!.ageMs).toBe('number');
    expect(await upstreamCalls(m, 'a')).toBe(1);
  });

  it('caching is opt-in: with no cache block a read-only tool answers from the child every time', async () => {
    const m = await start({ mcpServers: { a: fixture('a') } });
    const first = await m.client.callTool({ name: 'a__search', arguments: { query: 'now' } });
    const second = await m.client.callTool({ name: 'a__search', arguments: { query: 'now' } });
    expect(text(first)).toBe('a results for now (call 1)');
    expect(text(second)).toBe('a results for now (call 2)');
    expect(cacheMeta(second)).toBeUndefined();
    const r1 = await m.client.readResource({ uri: 'fixture://a/readme' });
    expect(cacheMeta(await m.client.readResource({ uri: 'fixture://a/readme' }))).toBeUndefined();
    expect(r1.contents).toEqual([{ uri: 'fixture://a/readme', text: 'a says: fixture://a/readme' }]);
    expect(await upstreamCalls(m, 'a')).toBe(2);
  });

  it('a write landing while a slow read-only call is out: the read is answered, not kept; the next read goes to the child', async () => {
    const gate = join(tempDir(), 'release');
    const m = await start({ mcpServers: { a: cached('a', { STATE_TOOLS: '1' }) } });
    const slow = m.client.callTool({ name: 'a__get', arguments: { release: gate } });
    await waitFor(() => existsSync(`${gate}.started`), 15_000, 'the read to reach the child (and the child to start)');
    expect(text(await m.client.callTool({ name: 'a__write', arguments: { value: 'new' } }))).toBe('a: wrote new');
    writeFileSync(gate, '');
    expect(text(await slow)).toBe('a: initial'); // read before the write landed
    const next = await m.client.callTool({ name: 'a__get', arguments: { release: gate } });
    expect(text(next)).toBe('a: new');
    expect(cacheMeta(next)).toBeUndefined();
    // Sent after the write: kept as ever.
    expect(cacheMeta(await m.client.callTool({ name: 'a__get', arguments: { release: gate } }))?.status).toBe('hit');
    expect(await upstreamCalls(m, 'a')).toBe(3);
  });

  it('a write through another mcpx on the same cache dir, seen here while a slow read is out: that read is not kept', async () => {
    const gate = join(tempDir(), 'release');
    const cacheDir = join(tempDir(), 'shared-cache');
    const config = { mcpServers: { a: cached('a', { STATE_TOOLS: '1' }) } };
    const [m1, m2] = await Promise.all([start(config, { env: { MCPX_CACHE_DIR: cacheDir } }), start(config, { env: { MCPX_CACHE_DIR: cacheDir } })]);
    const search = () => m1.client.callTool({ name: 'a__search', arguments: { query: 'x' } });
    await search();
    expect(cacheMeta(await search())?.status).toBe('hit');
    const slow = m1.client.callTool({ name: 'a__get', arguments: { release: gate } });
    await waitFor(() => existsSync(`${gate}.started`), 15_000, 'the read to reach the child (and the child to start)');
    await m2.client.callTool({ name: 'a__write', arguments: { value: 'new' } });
    // m1 answers another call meanwhile (a miss now), so it has heard of the write before its slow read ends.
    await waitFor(async () => cacheMeta(await search())?.status !== 'hit', 5000, 'm1 to see the write');
    writeFileSync(gate, '');
    expect(text(await slow)).toBe('a: initial');
    // A later result of m1's, written in the same batch or after: once it is on disk, so would the slow read's be.
    await m1.client.callTool({ name: 'a__search', arguments: { query: 'after' } });
    const db = new Database(join(cacheDir, 'cache.db'), { readonly: true });
    try {
      const rows = (sql: string) => db.prepare(sql).pluck().get() as number;
      await waitFor(() => rows("SELECT count(*) FROM entries WHERE result LIKE '%results for after%'") === 1, 5000, "m1's batched write");
      expect(rows("SELECT count(*) FROM entries WHERE tool = 'get'")).toBe(0); // so m2 has nothing to be answered from
    } finally {
      db.close();
    }
    expect(cacheMeta(await m1.client.callTool({ name: 'a__get', arguments: { release: gate } }))).toBeUndefined(); // nor m1's memory
  });

  it('a cached answer says so in its text once it is cache.noteAfter old; a younger one only in _meta', async () => {
    const m = await start({ mcpServers: { a: cached('a', {}, { cache: { ttl: '1h', noteAfter: 0 } }), b: cached('b') } });
    for (const p of ['a', 'b']) await m.client.callTool({ name: `${p}__echo`, arguments: { text: 'hi' } });
    const a = await m.client.callTool({ name: 'a__echo', arguments: { text: 'hi' } });
    expect(cacheMeta(a)?.status).toBe('hit');
    expect(a.content).toEqual([
      { type: 'text', text: 'a: hi' },
      { type: 'text', text: expect.stringMatching(/^\[mcpx\] Cached answer: a gave it \d+ ms ago; it may be out of date\.$/) },
    ]);
    const b = await m.client.callTool({ name: 'b__echo', arguments: { text: 'hi' } });
    expect(cacheMeta(b)?.status).toBe('hit');
    expect(b.content).toEqual([{ type: 'text', text: 'b: hi' }]); // under 60 s old: as the child sent it
  });

  it('never caches tools that are not read-only, isError results or errorPatterns matches', async () => {
    const m = await start({
      mcpServers: {
        a: cached('a'),
        c7: cached('c7', { ERROR_TEXT: 'Error searching libraries: TypeError: fetch failed' }, { errorPatterns: ['^Error searching libraries'], fallback: { stale: true } }),
      },
    });
    await m.client.callTool({ name: 'a__write', arguments: { value: 'v' } });
    await m.client.callTool({ name: 'a__write', arguments: { value: 'v' } });
    await m.client.callTool({ name: 'a__fail', arguments: {} });
    const failed = await m.client.callTool({ name: 'a__fail', arguments: {} });
    expect(failed.isError).toBe(true);
    expect(await upstreamCalls(m, 'a')).toBe(4);
    await m.client.callTool({ name: 'c7__search', arguments: { query: 'x' } });
    const again = await m.client.callTool({ name: 'c7__search', arguments: { query: 'x' } });
    expect(cacheMeta(again)?.status).not.toBe('hit');
    expect(await upstreamCalls(m, 'c7')).toBe(2);
  });

  it('drops a server\'s entries after a successful write call', async () => {
    const m = await start({ mcpServers: { a: cached('a') } });
    await m.client.callTool({ name: 'a__search', arguments: { query: 'q' } });
    expect(cacheMeta(await m.client.callTool({ name: 'a__search', arguments: { query: 'q' } }))?.status).toBe('hit');
    await m.client.callTool({ name: 'a__write', arguments: { value: 'new' } });
    const after = await m.client.callTool({ name: 'a__search', arguments: { query: 'q' } });
    expect(cacheMeta(after)).toBeUndefined();
    expect(await upstreamCalls(m, 'a')).toBe(3);
  });

  it('expires entries after their ttl', async () => {
    const m = await start({ mcpServers: { a: fixture('a', {}, { cache: { ttl: '300ms' } }) } });
    await m.client.callTool({ name: 'a__search', arguments: { query: 'q' } });
    expect(cacheMeta(await m.client.callTool({ name: 'a__search', arguments: { query: 'q' } }))?.status).toBe('hit');
    // Hits until the ttl is over; the first call after it goes to the child.
    await waitFor(async () => cacheMeta(await m.client.callTool({ name: 'a__search', arguments: { query: 'q' } })) === undefined, 5000, 'the entry to expire');
    expect(await upstreamCalls(m, 'a')).toBe(2);
  });

  it('shares one upstream call between identical calls in flight', async () => {
    const m = await start({ mcpServers: { a: cached('a') } });
    const calls = Array.from({ length: 6 }, () => m.client.callTool({ name: 'a__slow', arguments: { ms: 300 } }));
    const results = await Promise.all(calls);
    expect(new Set(results.map(text)).size).toBe(1);
    expect(await upstreamCalls(m, 'a')).toBe(1);
  });

  it('survives a restart of mcpx, and misses when the credentials the child gets change', async () => {
    const dir = tempDir();
    const config = (token: string) => ({ mcpServers: { a: cached('a', { API_TOKEN: token }) } });
    const m1 = await start(config('token-one'), { dir });
    const r1 = await m1.client.callTool({ name: 'a__search', arguments: { query: 'shared' } });
    await stop(m1);

    const m2 = await start(config('token-one'), { dir });
    const r2 = await m2.client.callTool({ name: 'a__search', arguments: { query: 'shared' } });
    expect(cacheMeta(r2)?.status).toBe('hit');
    expect(r2.content).toEqual(r1.content);
    await stop(m2);

    const m3 = await start(config('token-two'), { dir });
    const r3 = await m3.client.callTool({ name: 'a__search', arguments: { query: 'shared' } });
    expect(cacheMeta(r3)).toBeUndefined();
  });

  it('caches resources/read results', async () => {
    const m = await start({ mcpServers: { a: cached('a') } });
    const r1 = await m.client.readResource({ uri: 'fixture://a/readme' });
    const r2 = await m.client.readResource({ uri: 'fixture://a/readme' });
    expect(r2.contents).toEqual(r1.contents);
    expect(cacheMeta(r2)?.status).toBe('hit');
  });

  it('`mcpx cache clear --server` while serving: the running process misses next time', async () => {
    const m = await start({ mcpServers: { a: cached('a'), b: cached('b') } });
    await m.client.callTool({ name: 'a__search', arguments: { query: 'q' } });
    await m.client.callTool({ name: 'b__search', arguments: { query: 'q' } });
    expect(cacheMeta(await m.client.callTool({ name: 'a__search', arguments: { query: 'q' } }))?.status).toBe('hit');
    const clear = await execa(process.execPath, [MCPX, 'cache', 'clear', '--server', 'a', '--config', m.configFile], {
      env: { MCPX_CACHE_DIR: join(m.dir, 'cache') },
      reject: false,
    });
    expect(clear.exitCode).toBe(0);
    expect(clear.stdout + clear.stderr).toMatch(/\b1\b/);
    expect(cacheMeta(await m.client.callTool({ name: 'a__search', arguments: { query: 'q' } }))).toBeUndefined();
    expect(cacheMeta(await m.client.callTool({ name: 'b__search', arguments: { query: 'q' } }))?.status).toBe('hit');
  });

  it('kill -9 of mcpx in the middle of writes leaves a database that passes integrity_check', async () => {
    const m = await start({ mcpServers: { a: cached('a') } });
    for (let i = 0; i < 20; i++) await m.client.callTool({ name: 'a__search', arguments: { query: `before-${i}` } });
    let answered = 0;
    const writes = Array.from({ length: 400 }, (_, i) =>
      m.client.callTool({ name: 'a__search', arguments: { query: `kill-${i}` } }).then(() => answered++, () => undefined),
    );
    await waitFor(() => answered >= 20, 10_000, 'answers (and cache writes) under way');
    process.kill(m.pid, 'SIGKILL');
    await Promise.all(writes);
    await stop(m, true);
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(join(m.dir, 'cache', 'cache.db'));
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect((db.prepare('SELECT count(*) AS n FROM entries').get() as { n: number }).n).toBeGreaterThan(0);
    db.close();
  });

  it('moves a corrupt cache file aside and keeps serving', async () => {
    const dir = tempDir();
    const { mkdirSync, writeFileSync, readdirSync } = await import('node:fs');
    const { randomBytes } = await import('node:crypto');
    mkdirSync(join(dir, 'cache'));
    writeFileSync(join(dir, 'cache', 'cache.db'), randomBytes(64 * 1024));
    const m = await start({ mcpServers: { a: cached('a') } }, { dir });
    await m.client.callTool({ name: 'a__search', arguments: { query: 'q' } });
    expect(cacheMeta(await m.client.callTool({ name: 'a__search', arguments: { query: 'q' } }))?.status).toBe('hit');
    expect(readdirSync(join(dir, 'cache')).some((f) => /^cache\.db\.corrupt-/.test(f))).toBe(true);
    expect(m.stderr()).toMatch(/corrupt|moved aside/i);
  });

  it('four mcpx processes share one cache file under load without an error', async () => {
    const dir = tempDir();
    const cacheDir = join(dir, 'shared-cache');
    const procs = await Promise.all(
      [0, 1, 2, 3].map(() => start({ mcpServers: { a: cached('a') } }, { env: { MCPX_CACHE_DIR: cacheDir } })),
    );
    const results = await Promise.all(
      procs.map(async (m, p) => {
        const out = [];
        for (let i = 0; i < 120; i++) {
          const r = await m.client.callTool({ name: 'a__search', arguments: { query: `q${(i * 7 + p) % 40}` } });
          out.push(r);
        }
        return out;
      }),
    );
    const all = results.flat();
    expect(all.length).toBe(480);
    const bad = all.filter((r) => r.isError || !/^a results for q\d+/.test(text(r))).map(text);
    expect(bad, bad.join("\n")).toEqual([]);
    const hits = all.filter((r) => cacheMeta(r)?.status === 'hit').length;
    expect(hits).toBeGreaterThan(300); // 40 distinct queries, shared across processes
    for (const m of procs) expect(m.stderr()).not.toMatch(/SQLITE_BUSY|database is locked|error/i);
  });

  it('a write call in one mcpx drops only that server from another mcpx\'s memory', async () => {
    const cacheDir = join(tempDir(), 'shared-cache');
    const config = { mcpServers: { a: cached('a'), b: cached('b') } };
    const [m1, m2] = await Promise.all([start(config, { env: { MCPX_CACHE_DIR: cacheDir } }), start(config, { env: { MCPX_CACHE_DIR: cacheDir } })]);
    for (const p of ['a', 'b']) await m2.client.callTool({ name: `${p}__search`, arguments: { query: 'q' } });
    const db = new Database(join(cacheDir, 'cache.db'));
    try {
      const rows = (server: string) => db.prepare('SELECT count(*) FROM entries WHERE server = ?').pluck().get(server) as number;
      await waitFor(() => rows('a') === 1 && rows('b') === 1, 5000, "m2's batched writes");
      // b's row goes behind m2's back: from now on a hit for b can only come from m2's memory.
      db.prepare("DELETE FROM entries WHERE server = 'b'").run();
      await m1.client.callTool({ name: 'a__write', arguments: { value: 'v' } }); // invalidateOnWrite: server a
      await waitFor(() => rows('a') === 0, 5000, "m1's invalidation");
    } finally {
      db.close();
    }
    expect(cacheMeta(await m2.client.callTool({ name: 'a__search', arguments: { query: 'q' } }))).toBeUndefined();
    // Before: m2 dropped its whole memory on any invalidation, and b missed too.
    expect(cacheMeta(await m2.client.callTool({ name: 'b__search', arguments: { query: 'q' } }))?.status).toBe('hit');
  });

  it('`mcpx cache prune` while serving: no full VACUUM, and serve answers throughout', async () => {
    const m = await start({ mcpServers: { a: cached('a') } });
    const ask = () => m.client.callTool({ name: 'a__search', arguments: { query: 'q' } });
    await ask();
    const file = join(m.dir, 'cache', 'cache.db');
    const db = new Database(file);
    try {
      await waitFor(() => db.prepare('SELECT count(*) FROM status WHERE pid = ?').pluck().get(m.pid) === 1, 5000, 'the serve heartbeat');
      const insert = db.prepare("INSERT INTO entries VALUES (?, 'a', 'search', ?, 1, 2, 3, 4000, 1)");
      db.transaction(() => { for (let i = 0; i < 1000; i++) insert.run(`expired-${i}`, JSON.stringify({ pad: 'p'.repeat(4000) })); })();
    } finally {
      db.close();
    }
    let pruning = true;
    const during: string[] = [];
    const calls = (async () => {
      while (pruning) during.push(String(cacheMeta(await ask())?.status));
    })();
    const t0 = performance.now();
    const prune = await execa(process.execPath, [MCPX, 'cache', 'prune', '--json', '--config', m.configFile], {
      env: { MCPX_CACHE_DIR: join(m.dir, 'cache') }, reject: false,
    });
    const pruneMs = performance.now() - t0;
    pruning = false;
    await calls;
    console.log(`prune beside mcpx serve: ${pruneMs.toFixed(0)} ms (process included); ${during.length} calls answered meanwhile`);
    expect(prune.exitCode, prune.stderr).toBe(0);
    expect(JSON.parse(prune.stdout)).toMatchObject({ removed: 1000, compaction: 'incremental', vacuumed: false, serving: [m.pid] });
    expect(during.length).toBeGreaterThan(0);
    expect(new Set(during)).toEqual(new Set(['hit']));
    expect(cacheMeta(await ask())?.status).toBe('hit');
    const human = await execa(process.execPath, [MCPX, 'cache', 'prune', '--config', m.configFile], { env: { MCPX_CACHE_DIR: join(m.dir, 'cache') } });
    expect(human.stdout).toMatch(new RegExp(`freed pages released; serve is running, pid ${m.pid}`));
  });
});
