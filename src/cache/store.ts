import type { Statement } from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import { errorMessage } from '../errors.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import type { CacheDb } from './db.js';
import { storable } from './entry.js';
import { errorCode, withBusyRetry } from './sqlite-errors.js';

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
}

export interface InvalidateFilter {
  server?: string;
  tool?: string;
  key?: string;
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
  /** False when not stored: too big, not JSON, store not writable, write failed. Never waits. */
  put(entry: PutEntry, now?: number): boolean;
  /** Deletes matching entries (an empty filter: all); returns how many. This process's memory drops them at once. */
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

/**
 * SQLite behind an in-memory LRU (L1). Hot entries are served from L1 after one cheap coherence check:
 * PRAGMA data_version changes only when another connection commits; when it does we re-read the
 * `generation` counter, which only invalidations bump, and drop L1 if it moved. So `mcpx cache clear`
 * in another process is seen on the next lookup, while other processes' ordinary writes cost one read.
 */
export class SqliteResultStore implements ResultStore {
  private readonly l1: LRUCache<string, CachedEntry>;
  private readonly s: ReturnType<typeof prepare>;
  private readonly maxBytes: number;
  private readonly log: Logger;
  /** key → last hit time, written in one transaction every hitFlushMs instead of a write per hit. */
  private readonly pendingHits = new Map<string, number>();
  private readonly hitTimer: NodeJS.Timeout;
  private readonly warned = new Set<string>();
  private seenDataVersion: number;
  private seenGeneration: number;
  private bytesSinceCapCheck = 0;
  private closed = false;

  constructor(
    private readonly cdb: CacheDb,
    private readonly opts: SqliteStoreOptions,
  ) {
    this.s = prepare(cdb);
    this.maxBytes = Math.floor(opts.maxMb * 1024 * 1024);
    this.log = opts.log ?? defaultLog;
    this.l1 = new LRUCache<string, CachedEntry>({
      maxSize: opts.l1MaxBytes ?? 32 * 1024 * 1024,
      // Parsed objects take more room than their JSON; a rough factor keeps the budget honest.
      sizeCalculation: (e) => e.bytes * 2 + 256,
    });
    this.seenDataVersion = this.s.dataVersion.get() as number;
    this.seenGeneration = (this.s.generation.get() as number | undefined) ?? 0;
    this.hitTimer = setInterval(() => this.flushHits(), opts.hitFlushMs ?? 5000);
    this.hitTimer.unref();
  }

  get(key: string, now = Date.now()): CachedEntry | undefined {
    const e = this.lookup(key, now);
    if (!e || now >= e.expiresAt) return undefined;
    if (this.cdb.writable) this.pendingHits.set(key, now);
    return e;
  }

  getStale(key: string, now = Date.now()): CachedEntry | undefined {
    const e = this.lookup(key, now);
    if (!e) return undefined;
    if (this.cdb.writable) this.pendingHits.set(key, now);
    return e;
  }

  put(p: PutEntry, now = Date.now()): boolean {
    if (!this.cdb.writable || this.closed) return false;
    const s = storable(p, now, this.opts.maxEntryBytes);
    if (!s) return false;
    const { json, entry } = s;
    const { bytes } = entry;
    try {
      withBusyRetry(() =>
        this.s.upsert.run({
          key: entry.key, server: entry.server, tool: entry.tool, result: json,
          stored_at: now, expires_at: entry.expiresAt, stale_until: entry.staleUntil, bytes,
        }),
      );
    } catch (e) {
      this.warnOnce('store a result', e);
      return false;
    }
    // L1 gets its own parsed copy: the caller keeps (and may change) the object it passed in.
    this.l1.set(p.key, freeze({ ...entry, result: JSON.parse(json) }));
    this.bytesSinceCapCheck += bytes;
    if (this.bytesSinceCapCheck > this.maxBytes / 16) {
      this.bytesSinceCapCheck = 0;
      this.safely('enforce the size cap', () => this.enforceCap(), 0);
    }
    return true;
  }

  invalidate(filter: InvalidateFilter): number {
    if (!this.cdb.writable) return 0;
    const removed = this.safely('invalidate', () =>
      withBusyRetry(() =>
        this.cdb.db.transaction(() => {
          const n = this.deleteMatching(filter);
          this.s.bumpGeneration.run();
          return n;
        }).immediate(),
      ), 0);
    // Our own commit does not change our data_version: drop our L1 here and note the new generation.
    this.l1.clear();
    this.safely('read the generation', () => { this.seenGeneration = this.s.generation.get() as number; }, undefined);
    return removed;
  }

  prune(now = Date.now()): number {
    if (!this.cdb.writable) return 0;
    const expired = this.safely('prune', () => withBusyRetry(() => this.s.deleteExpired.run(now).changes), 0);
    return expired + this.safely('enforce the size cap', () => this.enforceCap(), 0);
  }

  stats(): StoreSummary {
    const servers = this.safely('read cache stats', () => this.s.summary.all() as ServerSummary[], []);
    return {
      entries: servers.reduce((n, s) => n + s.entries, 0),
      bytes: servers.reduce((n, s) => n + s.bytes, 0),
      servers,
    };
  }

  close(): void {
    if (this.closed) return;
    clearInterval(this.hitTimer);
    this.flushHits();
    this.closed = true;
    this.l1.clear();
  }

  /** Writes the batched last_hit times in one transaction. */
  flushHits(): void {
    if (this.pendingHits.size === 0 || !this.cdb.writable || !this.cdb.db.open) return;
    const hits = [...this.pendingHits];
    this.pendingHits.clear();
    this.safely('record hits', () =>
      withBusyRetry(() =>
        this.cdb.db.transaction(() => {
          for (const [key, at] of hits) this.s.touch.run(at, key, at);
        }).immediate(),
      ), undefined);
  }

  private lookup(key: string, now: number): CachedEntry | undefined {
    if (this.closed) return undefined;
    return this.safely('read the cache', () => {
      this.checkCoherence();
      let e = this.l1.get(key);
      if (e === undefined) {
        const row = this.s.select.get(key) as Row | undefined;
        if (!row || now >= row.stale_until) return undefined;
        e = freeze({
          key: row.key, server: row.server, tool: row.tool, result: JSON.parse(row.result),
          storedAt: row.stored_at, expiresAt: row.expires_at, staleUntil: row.stale_until, bytes: row.bytes,
        });
        this.l1.set(key, e);
      } else if (now >= e.staleUntil) {
        this.l1.delete(key);
        return undefined;
      }
      return e;
    }, undefined);
  }

  private checkCoherence(): void {
    const dv = this.s.dataVersion.get() as number;
    if (dv === this.seenDataVersion) return;
    this.seenDataVersion = dv;
    const gen = this.s.generation.get() as number;
    if (gen !== this.seenGeneration) {
      this.l1.clear();
      this.seenGeneration = gen;
    }
  }

  private deleteMatching(f: InvalidateFilter): number {
    const s = this.s;
    if (f.key !== undefined) {
      if (f.server !== undefined || f.tool !== undefined) {
        const row = s.select.get(f.key) as Row | undefined;
        if (!row || (f.server !== undefined && row.server !== f.server) || (f.tool !== undefined && row.tool !== f.tool)) return 0;
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
    this.flushHits(); // LRU order should see the latest hits
    if ((this.s.totalBytes.get() as number) <= this.maxBytes) return 0;
    return withBusyRetry(() => this.s.deleteOverCap.run(this.maxBytes).changes);
  }

  private safely<T>(what: string, fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (e) {
      this.warnOnce(what, e);
      return fallback;
    }
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
    generation: db.prepare("SELECT value FROM meta WHERE name = 'generation'").pluck(),
    bumpGeneration: st("UPDATE meta SET value = value + 1 WHERE name = 'generation'"),
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
    deleteExpired: st('DELETE FROM entries WHERE stale_until <= ?'),
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
