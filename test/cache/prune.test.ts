// `mcpx cache prune` does not block running servers. With a serve heartbeat in the
// database it deletes in small batches and releases freed pages step by step (incremental vacuum),
// never a full VACUUM, and never waits for serve's readers; with none, it compacts the whole file.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pruneCache } from '../../src/cache/admin.js';
import { migrate } from '../../src/cache/migrations.js';
import { openDatabase } from '../../src/cache/db.js';
import { SqliteResultStore } from '../../src/cache/store.js';
import { holdDatabase, runNode, tempDir } from './helpers.js';

/** n entries of ~2 KB, past their stale time, and one live one. */
function seed(dir: string, n: number): void {
  const cdb = openDatabase(dir);
  const store = new SqliteResultStore(cdb, { maxEntryBytes: 1 << 20, maxMb: 256 });
  const old = Date.now() - 60_000;
  for (let i = 0; i < n; i++) store.put({ key: `old-${i}`, server: 's', tool: 't', result: { text: 'z'.repeat(2000) }, ttlMs: 1000, staleTtlMs: 0 }, old);
  store.put({ key: 'live', server: 's', tool: 't', result: { ok: true }, ttlMs: 3_600_000, staleTtlMs: 0 });
  store.close();
  cdb.close();
}

/** A database as older mcpx versions made it: no incremental vacuum. */
function olderFile(dir: string): void {
  const raw = new Database(join(dir, 'cache.db'));
  raw.pragma('journal_mode = WAL');
  migrate(raw);
  raw.close();
}

function pragmas(dir: string): { freelist: number; autoVacuum: number; entries: number; integrity: string } {
  const db = new Database(join(dir, 'cache.db'));
  try {
    return {
      freelist: db.pragma('freelist_count', { simple: true }) as number,
      autoVacuum: db.pragma('auto_vacuum', { simple: true }) as number,
      entries: db.prepare('SELECT count(*) FROM entries').pluck().get() as number,
      integrity: db.pragma('integrity_check', { simple: true }) as string,
    };
  } finally {
    db.close();
  }
}

describe('cache prune while serve runs', () => {
  it('a serve heartbeat and an open read: batches, incremental vacuum, no wait for the reader, no full VACUUM', async () => {
    const dir = tempDir();
    seed(dir, 2000);
    const holder = await holdDatabase(dir, 'read', { serve: true });
    const t0 = performance.now();
    const r = pruneCache(dir);
    const ms = performance.now() - t0;
    console.log(`prune beside a serve holding a read: ${ms.toFixed(0)} ms, ${r.fileBytesBefore} → ${r.fileBytesAfter} bytes`);
    expect(r).toMatchObject({ removed: 2000, compaction: 'incremental', vacuumed: false, serving: [holder.pid] });
    // Before: VACUUM, then a TRUNCATE checkpoint that waited the 5 s busy timeout for the reader. The time is
    // printed above, not bounded; the compaction chosen (incremental, no VACUUM) is what is checked.
    await holder.release();
    expect(pragmas(dir)).toEqual({ freelist: 0, autoVacuum: 2, entries: 1, integrity: 'ok' });
  });

  it('an older file (no incremental vacuum) while serving: entries go, the file is left as it is', async () => {
    const dir = tempDir();
    olderFile(dir);
    seed(dir, 300);
    const holder = await holdDatabase(dir, 'read', { serve: true });
    const r = pruneCache(dir);
    expect(r).toMatchObject({ removed: 300, compaction: 'none', vacuumed: false, serving: [holder.pid] });
    await holder.release();
    const after = pragmas(dir);
    expect(after.freelist).toBeGreaterThan(0); // not compacted: that would have been a full VACUUM
    expect(after.autoVacuum).toBe(0);
  });

  it('no serve running (a heartbeat left by a dead process does not count): full VACUUM, and the file becomes incremental', async () => {
    const dir = tempDir();
    olderFile(dir);
    seed(dir, 300);
    const gone = await runNode(['-e', 'process.stdout.write(String(process.pid))']);
    const raw = new Database(join(dir, 'cache.db'));
    raw.prepare('INSERT INTO status (pid, data, updated_at) VALUES (?, ?, ?)').run(Number(gone.stdout), '{}', Date.now());
    raw.close();
    const r = pruneCache(dir);
    expect(r).toMatchObject({ removed: 300, compaction: 'vacuum', vacuumed: true, serving: [] });
    expect(r.fileBytesAfter).toBeLessThan(r.fileBytesBefore);
    expect(pragmas(dir)).toEqual({ freelist: 0, autoVacuum: 2, entries: 1, integrity: 'ok' });
  });
});
