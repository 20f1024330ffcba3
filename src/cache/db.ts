import Database from 'better-sqlite3';
import { accessSync, chmodSync, closeSync, constants, existsSync, mkdirSync, openSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, isMcpxError } from '../errors.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import { migrate, SCHEMA_VERSION, userVersion } from './migrations.js';
import { errorCode, isCorrupt, withBusyRetry } from './sqlite-errors.js';

/**
 * Opening the cache database: `${dir}/cache.db`, WAL, busy timeout, migrations. It never fails the
 * caller for an environmental reason: a corrupt file is moved aside and recreated; a directory we
 * cannot write (or a full disk) gives a read-only or in-memory database with `writable: false` and
 * one warning. The one refusal is a schema newer than this code (McpxError 'CACHE').
 *
 * Opening waits patiently for other processes (once per process); after that the connection waits
 * only busyTimeoutMs for a lock, 30 ms by default: serve's thread must never stall for seconds on a
 * database another process holds, so a lock held longer is a cache miss or a write carried over.
 * Commands that may wait (`mcpx cache clear|prune`) ask for a longer one.
 */
export interface CacheDb {
  readonly db: Database.Database;
  /** The file, or ':memory:' after a fallback. */
  readonly path: string;
  /** False when results cannot be stored (read-only file, in-memory fallback). */
  readonly writable: boolean;
  /** Runs fn with a longer busy timeout (2 s) and one retry: for a last write on close, never on a call's path. */
  patiently<T>(fn: () => T): T;
  close(): void;
}

export interface OpenOptions {
  log?: Logger;
  /** How long a statement waits for another connection's lock once the database is open (default 30 ms). */
  busyTimeoutMs?: number;
}

export const DB_FILE = 'cache.db';
/** What serve's connection waits for a lock: tens of ms, never seconds. */
export const SERVE_BUSY_TIMEOUT_MS = 30;
/** Opening (WAL switch, migrations) and commands that may wait: several processes may start at once. */
export const PATIENT_BUSY_TIMEOUT_MS = 5000;
/** The last write of a closing process: worth a wait, not a long hang on the way out. */
const LAST_WRITE_BUSY_TIMEOUT_MS = 2000;

export function openDatabase(dir: string, opts: OpenOptions = {}): CacheDb {
  const log = opts.log ?? defaultLog;
  const busyMs = opts.busyTimeoutMs ?? SERVE_BUSY_TIMEOUT_MS;
  const path = join(dir, DB_FILE);
  let failure: unknown;
  try {
    return openWritable(dir, path, busyMs);
  } catch (e) {
    if (isMcpxError(e)) throw e;
    failure = e;
  }
  if (isCorrupt(failure)) {
    try {
      const aside = moveAside(path);
      log.warn(`cache database ${path} was damaged (${reason(failure)}); moved it to ${aside} and started a fresh one`);
      return openWritable(dir, path, busyMs);
    } catch (e) {
      if (isMcpxError(e)) throw e;
      failure = e;
    }
  }
  return openFallback(path, failure, log, busyMs);
}

function openWritable(dir: string, path: string, busyMs: number): CacheDb {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Create it 0600 ourselves: SQLite would use the umask, and results may be private. -wal/-shm follow it.
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  else tightenModes(path);
  // SQLite would quietly open a file it may not write read-only, and in WAL mode even BEGIN IMMEDIATE succeeds.
  accessSync(path, constants.R_OK | constants.W_OK);
  const db = new Database(path, { timeout: PATIENT_BUSY_TIMEOUT_MS });
  try {
    // A new file gives freed pages back in small steps (`cache prune` while serve runs, no full VACUUM).
    // Only possible before the first table exists, and before the switch to WAL writes the header.
    if (statSync(path).size === 0) db.pragma('auto_vacuum = INCREMENTAL');
    // Switching to WAL takes an exclusive lock and can report BUSY without waiting when several start at once.
    withBusyRetry(() => db.pragma('journal_mode = WAL'), 20);
    db.pragma('synchronous = NORMAL');
    // quick_check, not integrity_check: it skips index cross-checks, so it stays cheap on every start.
    const check = db.pragma('quick_check(1)', { simple: true });
    if (check !== 'ok') throw Object.assign(new Error(`quick_check: ${String(check)}`), { code: 'SQLITE_CORRUPT' });
    withBusyRetry(() => migrate(db));
    db.pragma(`busy_timeout = ${busyMs}`);
  } catch (e) {
    db.close();
    throw e;
  }
  return wrap(db, path, true, busyMs);
}

/** Read-only when the file is there and current; otherwise an in-memory database nobody else sees. */
function openFallback(path: string, failure: unknown, log: Logger, busyMs: number): CacheDb {
  const why = reason(failure);
  if (existsSync(path)) {
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true, timeout: PATIENT_BUSY_TIMEOUT_MS });
      const v = userVersion(db);
      if (v > SCHEMA_VERSION) migrate(db); // throws the clear 'newer schema' error
      if (v === SCHEMA_VERSION) {
        db.prepare('SELECT count(*) FROM entries').get(); // proves the WAL index is usable read-only
        log.warn(`cache database ${path} is not writable (${why}); reading it, but new results are not cached`);
        db.pragma(`busy_timeout = ${busyMs}`);
        return wrap(db, path, false, busyMs);
      }
      db.close();
    } catch (e) {
      db?.close();
      if (isMcpxError(e)) throw e;
    }
  }
  const mem = new Database(':memory:');
  migrate(mem);
  log.warn(`cache database ${path} cannot be used (${why}); results are not cached by this process`);
  return wrap(mem, ':memory:', false, busyMs);
}

function wrap(db: Database.Database, path: string, writable: boolean, busyMs: number): CacheDb {
  return {
    db,
    path,
    writable,
    patiently(fn) {
      db.pragma(`busy_timeout = ${Math.max(busyMs, LAST_WRITE_BUSY_TIMEOUT_MS)}`);
      try {
        return withBusyRetry(fn, 2);
      } finally {
        db.pragma(`busy_timeout = ${busyMs}`);
      }
    },
    close() {
      if (db.open) db.close();
    },
  };
}

/** A database (and its -wal/-shm) left readable by others, by an older mcpx or a copy: back to 0600. */
function tightenModes(path: string): void {
  for (const f of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if (statSync(f).mode & 0o077) chmodSync(f, 0o600);
    } catch {
      /* missing, or not ours to change */
    }
  }
}

/** cache.db → cache.db.corrupt-<timestamp> (with its -wal and -shm), so nothing is lost for a post-mortem. */
function moveAside(path: string): string {
  const aside = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  for (const suffix of ['', '-wal', '-shm']) {
    if (existsSync(path + suffix)) renameSync(path + suffix, aside + suffix);
  }
  return aside;
}

function reason(e: unknown): string {
  const code = errorCode(e);
  const msg = errorMessage(e);
  return code && !msg.includes(code) ? `${code}: ${msg}` : msg;
}
