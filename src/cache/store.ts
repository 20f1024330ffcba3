import type { Statement } from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import { errorMessage } from '../errors.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import type { CacheDb } from './db.js';
import { storable } from './entry.js';
import { InvalidationLog, RecentInvalidations, matches, type InvalidateFilter } from './invalidations.js';
import { errorCode, isBusy } from './sqlite-errors.js';

export type { InvalidateFilter } from './invalidations.js';

/**
 * The result store: what the pipeline asks for before and after calling a child. An interface, so a
 * shared backend (Redis) can be added without touching the pipeline; SQLite is the embedded default.
 * Stores never throw to callers: a failure is a miss (reads) or `false` (writes), logged once.
 */
export interface CachedEntry {
  key: string;
  server: string;
  tool: string;
  /** The MCP result object. Shared between callers and frozen: copy before changing it. */
  result: unknown;
  storedAt: number;
  expiresAt: number;
  /** Served as a fallback until then; purged after. */
  staleUntil: number;
  /** Size of the stored JSON. */
  bytes: number;
}

export interface PutEntry {
  key: string;
  server: string;
  tool: string;
  result: unknown;
  ttlMs: number;
  /** How long after expiry the entry may still be served as stale: staleUntil = expiresAt + staleTtlMs. */
  staleTtlMs: number;
  /**
   * The store's mark() taken when the call that produced the result was sent: the put is refused when
   * an invalidation that would drop this entry (a write to its server, `cache clear`) came after it,
   * in this process or another one, because the answer may be from before that write.
   */
  since?: Mark;
}

/**
 * A point in a store's history of invalidations: `at` on this host's clock (every process of one
 * SQLite file shares it), and for a shared backend the count of invalidations it had seen (`seq`),
 * since hosts' clocks differ.
 */
export interface Mark {
  at: number;
  seq?: number;
}

export interface ServerSummary {
  server: string;
  entries: number;
  bytes: number;
  oldestStoredAt: number;
  newestStoredAt: number;
}

export interface StoreSummary {
  entries: number;
  bytes: number;
  servers: ServerSummary[];
}

/** A value now or later: SQLite answers synchronously (its path stays synchronous), Redis may not. */
export type MaybePromise<T> = T | Promise<T>;

export interface ResultStore {
  /** A fresh entry (now < expiresAt), or undefined. */
  get(key: string, now?: number): MaybePromise<CachedEntry | undefined>;
  /** A fresh or stale entry (now < staleUntil), or undefined. */
  getStale(key: string, now?: number): MaybePromise<CachedEntry | undefined>;
  /** Where the store's invalidations stand now: taken just before a call is sent (PutEntry.since). Never waits. */
  mark(): Mark;
  /**
   * False when not stored: too big, not JSON, store not writable, or invalidated since entry.since.
   * A store may write it later (batched), and refuse it then. Never waits.
   */
  put(entry: PutEntry, now?: number): boolean;
  /** Deletes matching entries (an empty filter: all); returns how many were deleted (0 when deferred). This process's L1 drops them at once. */
  invalidate(filter: InvalidateFilter): MaybePromise<number>;
  /** Deletes entries past staleUntil, then least recently used ones over the size cap; returns how many. */
  prune(now?: number): MaybePromise<number>;
  stats(): MaybePromise<StoreSummary>;
  /** Flushes pending bookkeeping; the CacheDb itself is closed by whoever opened it. */
  close(): MaybePromise<void>;
}

export interface SqliteStoreOptions {
  maxEntryBytes: number;
  maxMb: number;
  /** Budget of the in-memory L1 (default 32 MiB). */
  l1MaxBytes?: number;
  /** How often last_hit times are written (default 5 s). */
  hitFlushMs?: number;
  /** Results and deferred invalidations are written together this long after the first one (default 20 ms). */
  writeDelayMs?: number;
  /** Unwritten results kept while the database is busy; the oldest are dropped first (default 16 MiB). */
  maxPendingBytes?: number;
  log?: Logger;
}

interface Row {
  key: string;
  server: string;
  tool: string;
  result: string;
  stored_at: number;
  expires_at: number;
  stale_until: number;
  bytes: number;
}

/** After a lock wait ran out, SQLite is left alone this long: L1 hits are served, the rest are misses. */
const BUSY_BACKOFF_MS = 500;
/** After any other SQLite failure (full disk, I/O error). */
const FAILURE_BACKOFF_MS = 5000;
/** Deferred invalidations kept apart; past this they collapse into one that drops everything. */
const MAX_DEFERRED = 1000;
const MAX_PENDING_HITS = 10_000;
/** Rows deleted per transaction by prune(): another process's writer never waits for the whole purge. */
const PRUNE_BATCH = 500;

/**
 * SQLite behind an in-memory LRU (L1), built so that serving never waits on the database:
 *
 * - Reads: L1, then results not written yet, then SQLite. A lock another process holds costs one short
 *   wait (the connection's busy timeout: 30 ms in serve); then SQLite is left alone for BUSY_BACKOFF_MS,
 *   during which L1 hits are served and everything else is a miss.
 * - Writes: put() puts the result in L1 and in a pending batch; the batch (results, last_hit times,
 *   invalidations that could not be written at once) goes in one transaction writeDelayMs later, off the
 *   call's path. A busy database keeps the batch for the next try, within maxPendingBytes.
 * - Coherence: PRAGMA data_version changes only when another connection commits; when it does, the
 *   invalidation log (invalidations.ts) says what other processes invalidated, and only that leaves L1.
 *   So `mcpx cache clear --server a` or another serve's write call to `a` leaves every L1's `b` alone.
 */
export class SqliteResultStore implements ResultStore {
  private readonly l1: LRUCache<string, CachedEntry>;
  private readonly s: ReturnType<typeof prepare>;
  private readonly invalidations: InvalidationLog;
  /** Invalidations seen lately, own and other processes', with their times: a put checks its call's start against them. */
  private readonly recent = new RecentInvalidations();
  private readonly maxBytes: number;
  private readonly maxPendingBytes: number;
  private readonly writeDelayMs: number;
  private readonly log: Logger;
  /** Results not written yet, by key, oldest first (a later put of a key replaces it). */
  private readonly pendingPuts = new Map<string, Row>();
  private pendingBytes = 0;
  /** key → last hit time, written with the next batch instead of a write per hit. */
  private readonly pendingHits = new Map<string, number>();
  /** Invalidations not written yet (busy): until they are, they hide the older rows they match. */
  private deferred: { filter: InvalidateFilter; at: number }[] = [];
  private writeTimer: NodeJS.Timeout | undefined;
  private readonly hitTimer: NodeJS.Timeout;
  private readonly warned = new Set<string>();
  private seenDataVersion = 0;
  private seenGeneration = 0;
  /** SQLite is left alone until then (it was busy, or failed). */
  private backoffUntil = 0;
  private bytesSinceCapCheck = 0;
  private closed = false;
  /** Results dropped unwritten because the pending batch was full. */
  droppedWrites = 0;

  constructor(
    private readonly cdb: CacheDb,
    private readonly opts: SqliteStoreOptions,
  ) {
    this.s = prepare(cdb);
    this.invalidations = new InvalidationLog(cdb.db);
    this.maxBytes = Math.floor(opts.maxMb * 1024 * 1024);
    this.maxPendingBytes = opts.maxPendingBytes ?? 16 * 1024 * 1024;
    this.writeDelayMs = opts.writeDelayMs ?? 20;
    this.log = opts.log ?? defaultLog;
    this.l1 = new LRUCache<string, CachedEntry>({
      maxSize: opts.l1MaxBytes ?? 32 * 1024 * 1024,
      // Parsed objects take more room than their JSON; a rough factor keeps the budget honest.
      sizeCalculation: (e) => e.bytes * 2 + 256,
    });
    this.attempt('read the cache', () => {
      this.seenDataVersion = this.s.dataVersion.get() as number;
      this.seenGeneration = this.invalidations.current();
    });
    this.hitTimer = setInterval(() => this.flush(), opts.hitFlushMs ?? 5000);
    this.hitTimer.unref();
  }

  get(key: string, now = Date.now()): CachedEntry | undefined {
    const e = this.lookup(key, now);
    if (!e || now >= e.expiresAt) return undefined;
    this.noteHit(key, now);
    return e;
  }

  getStale(key: string, now = Date.now()): CachedEntry | undefined {
    const e = this.lookup(key, now);
    if (e) this.noteHit(key, now);
    return e;
  }

  mark(): Mark {
    return { at: Date.now() };
  }

  put(p: PutEntry, now = Date.now()): boolean {
    if (!this.cdb.writable || this.closed) return false;
    // An invalidation this process knows of since the call began: its answer may predate a write. One
    // from another process not seen yet is caught when it is (catchUp drops the unwritten row and L1's copy).
    if (p.since && this.recent.droppedSince(p.since.at, p)) return false;
    const s = storable(p, now, this.opts.maxEntryBytes);
    if (!s) return false;
    const { json, entry: e } = s;
    const row: Row = {
      key: e.key, server: e.server, tool: e.tool, result: json,
      stored_at: e.storedAt, expires_at: e.expiresAt, stale_until: e.staleUntil, bytes: e.bytes,
    };
    // L1 gets its own parsed copy: the caller keeps (and may change) the object it passed in.
    this.l1.set(p.key, toEntry(row));
    this.queue(row);
    return true;
  }

  invalidate(filter: InvalidateFilter): number {
    if (!this.cdb.writable || this.closed) return 0;
    const f = clean(filter);
    const at = Date.now();
    this.dropLocal(f, false); // results not written yet are written first, then deleted with the rest
    this.recent.note(f, at);
    this.defer({ filter: f, at });
    if (this.backingOff()) {
      this.schedule();
      return 0;
    }
    try {
      return this.writePending();
    } catch (e) {
      this.failed('invalidate', e);
      this.schedule();
      return 0;
    }
  }

  prune(now = Date.now()): number {
    if (!this.cdb.writable || this.closed || this.backingOff()) return 0;
    this.flush(); // the size cap's LRU order should see the latest hits
    let removed = 0;
    for (;;) {
      const n = this.attempt('prune', () => this.s.deleteExpired.run(now, PRUNE_BATCH).changes);
      if (n === undefined) return removed;
      removed += n;
      if (n < PRUNE_BATCH) break;
    }
    return removed + (this.attempt('enforce the size cap', () => this.cdb.db.transaction(() => this.enforceCap()).immediate()) ?? 0);
  }

  stats(): StoreSummary {
    const servers = this.attempt('read cache stats', () => this.s.summary.all() as ServerSummary[]) ?? [];
    return {
      entries: servers.reduce((n, s) => n + s.entries, 0),
      bytes: servers.reduce((n, s) => n + s.bytes, 0),
      servers,
    };
  }

  close(): void {
    if (this.closed) return;
    clearInterval(this.hitTimer);
    this.cancelTimer();
    // Leaving: this is the one write allowed to wait for a lock (never on a call's path).
    if (this.hasPending() && this.cdb.writable && this.cdb.db.open) {
      try {
        this.cdb.patiently(() => this.writePending());
      } catch (e) {
        this.warnOnce('write the last results', e);
      }
    }
    this.closed = true;
    this.l1.clear();
  }

  /**
   * Writes what is pending (results, last_hit times, deferred invalidations) in one transaction,
   * without waiting more than the busy timeout. True when nothing is left to write.
   */
  flush(): boolean {
    this.cancelTimer();
    if (!this.hasPending()) return true;
    if (!this.cdb.writable || !this.cdb.db.open) return true;
    if (!this.backingOff()) {
      try {
        this.writePending();
        return true;
      } catch (e) {
        this.failed('write to the cache', e);
      }
    }
    this.schedule();
    return false;
  }

  /**
   * One transaction: others' invalidations (seen first, so that nothing they dropped is written back),
   * our results and hit times, then our invalidations, which were made after some of those results:
   * an older result is written and deleted (and counted); a newer one, kept in L1, may go with it
   * from SQLite, which only costs a miss. Returns what the last invalidation deleted.
   */
  private writePending(): number {
    let seq = 0;
    let removed = 0;
    this.cdb.db.transaction(() => {
      this.catchUp();
      for (const row of this.pendingPuts.values()) this.s.upsert.run(row);
      for (const [key, at] of this.pendingHits) this.s.touch.run(at, key, at);
      for (const inv of this.deferred) {
        removed = this.deleteMatching(inv.filter);
        seq = this.invalidations.record(inv.filter, inv.at);
      }
      this.bytesSinceCapCheck += this.pendingBytes;
      if (this.bytesSinceCapCheck > this.maxBytes / 16) {
        this.bytesSinceCapCheck = 0;
        this.enforceCap();
      }
    }).immediate();
    // Our own commit does not change our data_version: note our invalidations as seen here.
    if (seq) this.seenGeneration = seq;
    this.deferred = [];
    this.pendingPuts.clear();
    this.pendingBytes = 0;
    this.pendingHits.clear();
    return removed;
  }

  private lookup(key: string, now: number): CachedEntry | undefined {
    if (this.closed) return undefined;
    const useSqlite = !this.backingOff();
    if (useSqlite) this.attempt('read the cache', () => this.checkCoherence());
    let e = this.l1.get(key);
    if (e === undefined) {
      const row = this.pendingPuts.get(key) ?? (useSqlite && !this.backingOff() ? this.attempt('read the cache', () => this.s.select.get(key) as Row | undefined) : undefined);
      if (!row || now >= row.stale_until || this.hidden(row)) return undefined;
      e = this.attempt('read the cache', () => toEntry(row));
      if (e) this.l1.set(key, e);
    } else if (now >= e.staleUntil) {
      this.l1.delete(key);
      return undefined;
    }
    return e;
  }

  private checkCoherence(): void {
    const dv = this.s.dataVersion.get() as number;
    if (dv === this.seenDataVersion) return;
    this.catchUp();
    this.seenDataVersion = dv;
  }

  /** Drops from L1 (and from the pending batch) what other processes invalidated since we last looked. */
  private catchUp(): void {
    const gen = this.invalidations.current();
    if (gen === this.seenGeneration) return;
    const news = this.invalidations.after(this.seenGeneration, gen);
    if (news) {
      for (const inv of news) {
        this.dropLocal(inv.filter, true);
        this.recent.note(inv.filter, inv.at);
      }
    } else {
      this.dropLocal({}, true); // not on record: cannot know what went, nor when
      this.recent.forget(Date.now());
    }
    this.seenGeneration = gen;
  }

  /** Drops what the filter matches from L1 and, for another process's invalidation, from our unwritten results. */
  private dropLocal(f: InvalidateFilter, unwritten: boolean): void {
    if (f.key === undefined && f.server === undefined && f.tool === undefined) {
      this.l1.clear();
      if (unwritten) {
        this.pendingPuts.clear();
        this.pendingBytes = 0;
      }
      return;
    }
    const gone: string[] = [];
    if (f.key !== undefined) gone.push(f.key);
    else this.l1.forEach((e, k) => matches(f, e) && gone.push(k));
    for (const k of gone) {
      const e = this.l1.peek(k);
      if (e && matches(f, e)) this.l1.delete(k);
    }
    if (!unwritten) return;
    for (const [k, row] of this.pendingPuts) {
      if (!matches(f, row)) continue;
      this.pendingPuts.delete(k);
      this.pendingBytes -= row.bytes;
    }
  }

  /** A row an invalidation we could not write yet has removed. */
  private hidden(row: Row): boolean {
    return this.deferred.some((d) => d.at >= row.stored_at && matches(d.filter, row));
  }

  private queue(row: Row): void {
    const old = this.pendingPuts.get(row.key);
    if (old) {
      this.pendingPuts.delete(row.key);
      this.pendingBytes -= old.bytes;
    }
    this.pendingPuts.set(row.key, row);
    this.pendingBytes += row.bytes;
    // A database busy for long must not grow memory: the oldest unwritten results go (L1 still has them).
    for (const [key, r] of this.pendingPuts) {
      if (this.pendingBytes <= this.maxPendingBytes) break;
      this.pendingPuts.delete(key);
      this.pendingBytes -= r.bytes;
      this.droppedWrites++;
    }
    this.schedule();
  }

  private defer(inv: { filter: InvalidateFilter; at: number }): void {
    const id = JSON.stringify(inv.filter);
    this.deferred = this.deferred.filter((d) => JSON.stringify(d.filter) !== id);
    this.deferred.push(inv);
    if (this.deferred.length > MAX_DEFERRED) this.deferred = [{ filter: {}, at: inv.at }];
  }

  private noteHit(key: string, now: number): void {
    if (this.cdb.writable && (this.pendingHits.size < MAX_PENDING_HITS || this.pendingHits.has(key))) this.pendingHits.set(key, now);
  }

  private hasPending(): boolean {
    return this.pendingPuts.size > 0 || this.pendingHits.size > 0 || this.deferred.length > 0;
  }

  private schedule(): void {
    if (this.writeTimer || this.closed) return;
    this.writeTimer = setTimeout(() => {
      this.writeTimer = undefined;
      this.flush();
    }, Math.max(this.writeDelayMs, this.backoffUntil - Date.now()));
    this.writeTimer.unref();
  }

  private cancelTimer(): void {
    if (this.writeTimer) clearTimeout(this.writeTimer);
    this.writeTimer = undefined;
  }

  private backingOff(): boolean {
    return this.backoffUntil > Date.now();
  }

  private deleteMatching(f: InvalidateFilter): number {
    const s = this.s;
    if (f.key !== undefined) {
      if (f.server !== undefined || f.tool !== undefined) {
        const row = s.select.get(f.key) as Row | undefined;
        if (!row || !matches(f, row)) return 0;
      }
      return s.deleteKey.run(f.key).changes;
    }
    if (f.server !== undefined && f.tool !== undefined) return s.deleteServerTool.run(f.server, f.tool).changes;
    if (f.server !== undefined) return s.deleteServer.run(f.server).changes;
    if (f.tool !== undefined) return s.deleteTool.run(f.tool).changes;
    return s.deleteAll.run().changes;
  }

  /** Keeps the most recently hit entries that fit in maxMb; deletes the rest in one statement. */
  private enforceCap(): number {
    if ((this.s.totalBytes.get() as number) <= this.maxBytes) return 0;
    return this.s.deleteOverCap.run(this.maxBytes).changes;
  }

  /** Runs fn; a failure is logged (once) and answered with undefined, never thrown. */
  private attempt<T>(what: string, fn: () => T): T | undefined {
    try {
      return fn();
    } catch (e) {
      this.failed(what, e);
      return undefined;
    }
  }

  /** Busy: leave SQLite alone for a moment, quietly (it is expected). Another SQLite failure: longer, and say so. */
  private failed(what: string, e: unknown): void {
    if (isBusy(e)) {
      this.backoffUntil = Date.now() + BUSY_BACKOFF_MS;
      this.log.debug(`cache: database busy (${what}); serving from memory for ${BUSY_BACKOFF_MS} ms`);
      return;
    }
    if (errorCode(e).startsWith('SQLITE_')) this.backoffUntil = Date.now() + FAILURE_BACKOFF_MS;
    this.warnOnce(what, e);
  }

  private warnOnce(what: string, e: unknown): void {
    const id = `${what}:${errorCode(e)}`;
    if (this.warned.has(id)) return;
    this.warned.add(id);
    this.log.warn(`cache: could not ${what} (${errorMessage(e)}); carrying on without it`);
  }
}

/** Every statement, prepared once per store. */
function prepare(cdb: CacheDb) {
  const db = cdb.db;
  const st = (sql: string): Statement => db.prepare(sql);
  return {
    dataVersion: db.prepare('PRAGMA data_version').pluck(),
    select: st('SELECT key, server, tool, result, stored_at, expires_at, stale_until, bytes FROM entries WHERE key = ?'),
    upsert: st(`INSERT INTO entries (key, server, tool, result, stored_at, expires_at, stale_until, bytes, last_hit)
                VALUES (@key, @server, @tool, @result, @stored_at, @expires_at, @stale_until, @bytes, @stored_at)
                ON CONFLICT (key) DO UPDATE SET server = excluded.server, tool = excluded.tool, result = excluded.result,
                  stored_at = excluded.stored_at, expires_at = excluded.expires_at, stale_until = excluded.stale_until,
                  bytes = excluded.bytes, last_hit = excluded.last_hit`),
    touch: st('UPDATE entries SET last_hit = ? WHERE key = ? AND last_hit < ?'),
    deleteKey: st('DELETE FROM entries WHERE key = ?'),
    deleteServer: st('DELETE FROM entries WHERE server = ?'),
    deleteServerTool: st('DELETE FROM entries WHERE server = ? AND tool = ?'),
    deleteTool: st('DELETE FROM entries WHERE tool = ?'),
    deleteAll: st('DELETE FROM entries'),
    deleteExpired: st('DELETE FROM entries WHERE key IN (SELECT key FROM entries WHERE stale_until <= ? LIMIT ?)'),
    totalBytes: db.prepare('SELECT coalesce(sum(bytes), 0) FROM entries').pluck(),
    // Running total from the most recently hit down; everything past the cap goes.
    deleteOverCap: st(`DELETE FROM entries WHERE key IN (
                         SELECT key FROM (
                           SELECT key, sum(bytes) OVER (ORDER BY last_hit DESC, stored_at DESC, key ROWS UNBOUNDED PRECEDING) AS running
                           FROM entries)
                         WHERE running > ?)`),
    summary: st(`SELECT server, count(*) AS entries, sum(bytes) AS bytes,
                        min(stored_at) AS oldestStoredAt, max(stored_at) AS newestStoredAt
                 FROM entries GROUP BY server ORDER BY server`),
  };
}

function toEntry(row: Row): CachedEntry {
  return freeze({
    key: row.key, server: row.server, tool: row.tool, result: JSON.parse(row.result) as unknown,
    storedAt: row.stored_at, expiresAt: row.expires_at, staleUntil: row.stale_until, bytes: row.bytes,
  });
}

/** The filter without undefined fields: it is compared and stored as JSON. */
function clean(f: InvalidateFilter): InvalidateFilter {
  const out: InvalidateFilter = {};
  if (f.server !== undefined) out.server = f.server;
  if (f.tool !== undefined) out.tool = f.tool;
  if (f.key !== undefined) out.key = f.key;
  return out;
}

/** Deep-freezes a parsed result: entries are shared between callers. */
export function freeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) freeze(v);
  }
  return value;
}

/** Prunes every intervalMs in the background (unref'd: never keeps the process alive). Returns stop. */
export function startMaintenance(store: ResultStore, intervalMs = 60_000): () => void {
  const timer = setInterval(() => {
    try {
      store.prune();
    } catch {
      // prune already logs; a maintenance tick must never crash serve
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
