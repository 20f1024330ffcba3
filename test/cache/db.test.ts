import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase, SERVE_BUSY_TIMEOUT_MS } from '../../src/cache/db.js';
import { migrate, SCHEMA_VERSION, userVersion, type Migration } from '../../src/cache/migrations.js';
import { SqliteResultStore } from '../../src/cache/store.js';
import { isMcpxError } from '../../src/errors.js';
import { captureLog, FIXTURES, runNode, tempDir } from './helpers.js';

const tables = (db: Database.Database): string[] =>
  db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];

describe('openDatabase', () => {
  it('creates the dir 0700 and the file 0600, in WAL mode, at the current schema version', () => {
    const dir = join(tempDir(), 'nested', 'cache');
    const cdb = openDatabase(dir);
    expect(cdb.writable).toBe(true);
    expect(cdb.path).toBe(join(dir, 'cache.db'));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(cdb.path).mode & 0o777).toBe(0o600);
    expect(cdb.db.pragma('journal_mode', { simple: true })).toBe('wal');
    // Serve's connection waits tens of ms for a lock, never seconds; new files vacuum incrementally.
    expect(cdb.db.pragma('busy_timeout', { simple: true })).toBe(SERVE_BUSY_TIMEOUT_MS);
    expect(SERVE_BUSY_TIMEOUT_MS).toBeLessThanOrEqual(50);
    expect(cdb.db.pragma('auto_vacuum', { simple: true })).toBe(2); // INCREMENTAL
    expect(cdb.db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(userVersion(cdb.db)).toBe(SCHEMA_VERSION);
    expect(tables(cdb.db)).toEqual(['audit', 'catalog', 'entries', 'meta', 'stats', 'status', 'tool_pins']);
    cdb.close();
  });

  it('migrates an existing version-0 file, keeping what is in it', () => {
    const dir = tempDir();
    const raw = new Database(join(dir, 'cache.db'));
    raw.exec('CREATE TABLE notes (x TEXT); INSERT INTO notes VALUES (\'kept\')');
    expect(userVersion(raw)).toBe(0);
    raw.close();
    const cdb = openDatabase(dir);
    expect(userVersion(cdb.db)).toBe(SCHEMA_VERSION);
    expect(tables(cdb.db)).toContain('entries');
    expect(cdb.db.prepare('SELECT x FROM notes').pluck().get()).toBe('kept');
    cdb.close();
  });

  it('runs migration steps in order, each once, and rolls a failing step back', () => {
    const db = new Database(':memory:');
    const ran: string[] = [];
    const steps: Migration[] = [
      (d) => { ran.push('1'); d.exec('CREATE TABLE a (x)'); },
      (d) => { ran.push('2'); d.exec('CREATE TABLE b (x)'); },
    ];
    expect(migrate(db, steps.slice(0, 1))).toBe(1);
    expect(migrate(db, steps)).toBe(2);
    expect(migrate(db, steps)).toBe(2);
    expect(ran).toEqual(['1', '2']);
    const failing: Migration = (d) => { d.exec('CREATE TABLE c (x)'); throw new Error('step 3 broke'); };
    expect(() => migrate(db, [...steps, failing])).toThrow('step 3 broke');
    expect(userVersion(db)).toBe(2);
    expect(tables(db)).toEqual(['a', 'b']);
  });

  it('refuses a database from a newer mcpx with a CACHE error', () => {
    const dir = tempDir();
    const raw = new Database(join(dir, 'cache.db'));
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    let err: unknown;
    try { openDatabase(dir, { log: captureLog().log }); } catch (e) { err = e; }
    expect(isMcpxError(err) && err.code).toBe('CACHE');
    expect(String((err as Error).message)).toMatch(/newer than this mcpx/);
  });

  it('moves a file of random bytes aside and starts fresh', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'cache.db'), randomBytes(64 * 1024));
    const { log, lines } = captureLog();
    const cdb = openDatabase(dir, { log });
    expect(cdb.writable).toBe(true);
    expect(cdb.path).toBe(join(dir, 'cache.db'));
    expect(lines.filter((l) => l.includes('warn'))).toHaveLength(1);
    expect(lines[0]).toMatch(/damaged .*moved it to .*cache\.db\.corrupt-/);
    const files = readdirSync(dir);
    expect(files.filter((f) => /^cache\.db\.corrupt-[\dTZ-]+$/.test(f))).toHaveLength(1);
    const store = new SqliteResultStore(cdb, { maxEntryBytes: 1 << 20, maxMb: 8 });
    expect(store.put({ key: 'k', server: 's', tool: 't', result: { ok: 1 }, ttlMs: 60_000, staleTtlMs: 0 })).toBe(true);
    expect(store.get('k')?.result).toEqual({ ok: 1 });
    store.close();
    cdb.close();
  });

  it('moves aside a real database whose pages were overwritten', () => {
    const dir = tempDir();
    const cdb = openDatabase(dir);
    const store = new SqliteResultStore(cdb, { maxEntryBytes: 1 << 20, maxMb: 64 });
    for (let i = 0; i < 300; i++) store.put({ key: `k${i}`, server: 's', tool: 't', result: { i, pad: 'p'.repeat(500) }, ttlMs: 60_000, staleTtlMs: 0 });
    store.close();
    cdb.close();
    const file = join(dir, 'cache.db');
    const buf = readFileSync(file);
    randomBytes(4096 * 4).copy(buf, 4096 * 3); // pages 4..7: table and index b-tree pages
    writeFileSync(file, buf);
    const { log, lines } = captureLog();
    const again = openDatabase(dir, { log });
    expect(again.writable).toBe(true);
    expect(lines.join('\n')).toMatch(/damaged/);
    expect(again.db.pragma('integrity_check', { simple: true })).toBe('ok');
    again.close();
  });
});

describe('openDatabase without write access (runs the fixture as an unprivileged user)', () => {
  // As root, permissions do not apply: run the opener as "nobody" instead of changing users here.
  const asOther = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

  function readOnlyDir(seed: boolean, dirMode = 0o555): string {
    const base = tempDir();
    chmodSync(base, 0o755);
    const dir = join(base, 'cache');
    mkdirSync(dir);
    if (seed) {
      const cdb = openDatabase(dir);
      const store = new SqliteResultStore(cdb, { maxEntryBytes: 1 << 20, maxMb: 8 });
      store.put({ key: 'seeded', server: 's', tool: 't', result: { seeded: true }, ttlMs: 3_600_000, staleTtlMs: 0 });
      store.close();
      cdb.close();
      chmodSync(join(dir, 'cache.db'), asOther.uid ? 0o644 : 0o444);
    }
    chmodSync(dir, dirMode);
    return dir;
  }

  it('reads an existing cache read-only: writable=false, one warning, no throw', async () => {
    const dir = readOnlyDir(true);
    const r = await runNode([join(FIXTURES, 'open.mjs'), dir], asOther);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ writable: false, stored: false });
    // Either the file read-only (seeded entry visible) or, if SQLite cannot share its WAL index, memory.
    if (out.path !== ':memory:') expect(out.read).toEqual({ seeded: true });
    expect(r.stderr.trim().split('\n').filter((l) => l.includes('warn'))).toHaveLength(1);
  });

  it('reads a file it may not write (in a writable dir) read-only: writable=false, one warning', async () => {
    const dir = readOnlyDir(true, 0o777);
    const r = await runNode([join(FIXTURES, 'open.mjs'), dir], asOther);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ writable: false, path: join(dir, 'cache.db'), stored: false, read: { seeded: true } });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/warn: .*not writable .*reading it/);
  });

  it('falls back to memory when the dir cannot be created', async () => {
    const dir = join(readOnlyDir(false), 'sub');
    const r = await runNode([join(FIXTURES, 'open.mjs'), dir], asOther);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ writable: false, path: ':memory:', stored: false, read: null });
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/warn: .*cannot be used/);
    expect(existsSync(dir)).toBe(false);
  });
});
