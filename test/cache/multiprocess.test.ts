import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/cache/db.js';
import { readStats } from '../../src/cache/stats.js';
import { SqliteResultStore } from '../../src/cache/store.js';
import { FIXTURES, runNode, tempDir } from './helpers.js';

const put = (store: SqliteResultStore, key: string, server = 's1') =>
  store.put({ key, server, tool: 't', result: { content: [{ type: 'text', text: key }] }, ttlMs: 3_600_000, staleTtlMs: 0 });

describe('several processes on one cache file', () => {
  it('L1 coherence: A caches, process B clears, A misses on its next lookup', async () => {
    const dir = tempDir();
    const cdb = openDatabase(dir);
    const store = new SqliteResultStore(cdb, { maxEntryBytes: 1 << 20, maxMb: 64 });
    put(store, 'x1', 'ctx7');
    put(store, 'x2', 'ctx7');
    put(store, 'y1', 'notion');
    expect(store.get('x1')).toBeDefined(); // in A's L1 now
    expect(store.get('y1')).toBeDefined();
    expect(store.flush()).toBe(true); // writes are batched: B must find them in the file

    const b = await runNode([join(FIXTURES, 'clear.mjs'), dir, 'ctx7']);
    expect(b.stderr).toBe('');
    expect(b.stdout.trim()).toBe('2');
    expect(store.get('x1')).toBeUndefined();
    expect(store.get('x2')).toBeUndefined();
    expect(store.get('y1')).toBeDefined();
    store.close();
    cdb.close();
  });

  it('invalidating server A in another process drops only A from this L1; B is still served from it', async () => {
    const dir = tempDir();
    const cdb = openDatabase(dir);
    const store = new SqliteResultStore(cdb, { maxEntryBytes: 1 << 20, maxMb: 64 });
    put(store, 'a1', 'A');
    put(store, 'a2', 'A');
    put(store, 'b1', 'B');
    expect(store.flush()).toBe(true);
    expect(store.get('b1')).toBeDefined();
    // B's row goes behind the store's back (no invalidation): from now on a hit on b1 can only come from L1.
    const raw = new Database(join(dir, 'cache.db'));
    raw.prepare("DELETE FROM entries WHERE server = 'B'").run();
    raw.close();

    const other = await runNode([join(FIXTURES, 'clear.mjs'), dir, 'A']);
    expect(other.stderr).toBe('');
    expect(other.stdout.trim()).toBe('2');
    expect(store.get('a1')).toBeUndefined();
    expect(store.get('a2')).toBeUndefined();
    expect(store.get('b1')?.server).toBe('B'); // before: the whole L1 was dropped, and b1 missed
    store.close();
    cdb.close();
  });

  it('four processes write and read one file for 3 s: no errors, no warnings, counts add up', async () => {
    const dir = tempDir();
    openDatabase(dir).close(); // create it once, so the four race on use rather than on creation
    const runs = await Promise.all([1, 2, 3, 4].map((id) => runNode([join(FIXTURES, 'hammer.mjs'), dir, String(id), '3000'])));
    for (const r of runs) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const outs = runs.map((r) => JSON.parse(r.stdout) as { calls: number; puts: number; failedPuts: number; hits: number; errors: number });
    for (const o of outs) {
      expect(o.errors).toBe(0);
      expect(o.failedPuts).toBe(0);
      expect(o.hits).toBe(o.puts); // every get right after a put found it (own L1 or SQLite)
      expect(o.calls).toBeGreaterThan(200);
    }
    const db = new Database(join(dir, 'cache.db'), { readonly: true });
    expect(db.prepare('SELECT count(*) FROM entries').pluck().get()).toBe(4 * 200 + 50);
    const [hammer] = readStats(db);
    expect(hammer!.calls).toBe(outs.reduce((n, o) => n + o.calls, 0));
    expect(hammer!.latency.count).toBe(hammer!.calls);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
  });

  it('kill -9 of a writer mid-writes leaves a database that passes integrity_check', async () => {
    const dir = tempDir();
    const child = spawn(process.execPath, [join(FIXTURES, 'writer.mjs'), dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    await new Promise<void>((res, rej) => {
      child.stdout.on('data', (d) => String(d).includes('ready') && res());
      child.on('exit', () => rej(new Error(`writer exited early: ${stderr}`)));
    });
    // "ready" is printed from inside the write loop, which goes on: the kill lands mid-writes.
    const exited = new Promise((r) => child.on('exit', (_c, signal) => r(signal)));
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');

    const raw = new Database(join(dir, 'cache.db'));
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok');
    raw.close();
    const cdb = openDatabase(dir);
    expect(cdb.writable).toBe(true);
    const store = new SqliteResultStore(cdb, { maxEntryBytes: 1 << 20, maxMb: 8 });
    expect(store.stats().entries).toBeGreaterThan(0);
    expect(put(store, 'after', 's')).toBe(true);
    store.close();
    cdb.close();
  });
});
