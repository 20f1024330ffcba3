/**
 * Classifying SQLite and file-system failures, and retrying the transient ones. better-sqlite3 throws
 * SqliteError with `code` ('SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', ...); fs throws errno codes.
 */
export function errorCode(e: unknown): string {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string'
    ? (e as { code: string }).code
    : '';
}

/** Another connection holds the lock: worth a retry (busy_timeout already waited once). */
export function isBusy(e: unknown): boolean {
  const c = errorCode(e);
  return c.startsWith('SQLITE_BUSY') || c.startsWith('SQLITE_LOCKED');
}

/** The file is not a database, or its pages are damaged: move it aside and start fresh. */
export function isCorrupt(e: unknown): boolean {
  const c = errorCode(e);
  return c === 'SQLITE_NOTADB' || c.startsWith('SQLITE_CORRUPT');
}

/** We may not (or can no longer) write: read-only dir or file, full disk, no permission. */
export function isUnwritable(e: unknown): boolean {
  const c = errorCode(e);
  return (
    c.startsWith('SQLITE_READONLY') || c.startsWith('SQLITE_CANTOPEN') || c === 'SQLITE_FULL' ||
    c.startsWith('SQLITE_IOERR') || c.startsWith('SQLITE_PERM') || c.startsWith('SQLITE_AUTH') ||
    ['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT'].includes(c)
  );
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
/** better-sqlite3 is synchronous, so a retry backoff has to be too; only ever a few ms. */
export function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

/**
 * Runs a write, retrying when SQLite says busy. busy_timeout covers plain lock waits; this covers
 * the cases where SQLite returns BUSY without waiting (BUSY_SNAPSHOT, a WAL recovery in progress).
 */
export function withBusyRetry<T>(fn: () => T, attempts = 5): T {
  for (let i = 1; ; i++) {
    try {
      return fn();
    } catch (e) {
      if (!isBusy(e) || i >= attempts) throw e;
      sleepSync(5 * i * i);
    }
  }
}
