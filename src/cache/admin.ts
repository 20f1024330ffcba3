import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from 'better-sqlite3';
import { McpxError } from '../errors.js';
import { isRunning } from '../util/proc.js';
import { openDatabase, DB_FILE, PATIENT_BUSY_TIMEOUT_MS, type CacheDb } from './db.js';
import { readStats, type ServerStats } from './stats.js';
import { SqliteResultStore } from './store.js';

/**
 * What `mcpx cache clear|stats|prune` do, as plain data (the command renders it). A missing
 * database is reported as empty rather than created: looking should not leave files behind.
 */
export interface CacheLimits {
  maxMb: number;
  maxEntryBytes: number;
}

const DEFAULT_LIMITS: CacheLimits = { maxMb: 256, maxEntryBytes: 1_048_576 };

export interface ClearResult {
  file: string;
  removed: number;
  server?: string;
  tool?: string;
}

export function clearCache(dir: string, filter: { server?: string; tool?: string }, limits = DEFAULT_LIMITS): ClearResult {
  const file = join(dir, DB_FILE);
  if (!existsSync(file)) return { file, removed: 0, ...filter };
  return withStore(dir, limits, (store) => ({ file, removed: store.invalidate(filter), ...filter }));
}

/** What the cache holds and how it was used: for one server, and summed over all. */
interface CacheFigures {
  entries: number;
  bytes: number;
  oldest: string | null;
  newest: string | null;
  hits: number;
  staleHits: number;
  misses: number;
}

export interface ServerCacheStats extends CacheFigures, Pick<ServerStats, 'calls' | 'errors' | 'timeouts'> {
  server: string;
  p50Ms: number | null;
  p95Ms: number | null;
}

export interface StatsResult extends CacheFigures {
  file: string;
  exists: boolean;
  fileBytes: number;
  servers: ServerCacheStats[];
}

export function cacheStats(dir: string): StatsResult {
  const file = join(dir, DB_FILE);
  const empty: StatsResult = { file, exists: false, fileBytes: 0, entries: 0, bytes: 0, oldest: null, newest: null, hits: 0, staleHits: 0, misses: 0, servers: [] };
  if (!existsSync(file)) return empty;
  const cdb = openDatabase(dir, { busyTimeoutMs: PATIENT_BUSY_TIMEOUT_MS });
  try {
    const store = new SqliteResultStore(cdb, DEFAULT_LIMITS);
    const summary = store.stats();
    store.close();
    const counters = new Map(readStats(cdb).map((s) => [s.server, s]));
    const names = [...new Set([...summary.servers.map((s) => s.server), ...counters.keys()])].sort();
    const servers = names.map((server): ServerCacheStats => {
      const e = summary.servers.find((s) => s.server === server);
      const c = counters.get(server);
      return {
        server,
        entries: e?.entries ?? 0,
        bytes: e?.bytes ?? 0,
        oldest: iso(e?.oldestStoredAt),
        newest: iso(e?.newestStoredAt),
        hits: c?.hits ?? 0,
        staleHits: c?.staleHits ?? 0,
        misses: c?.misses ?? 0,
        calls: c?.calls ?? 0,
        errors: c?.errors ?? 0,
        timeouts: c?.timeouts ?? 0,
        p50Ms: c?.latency.p50Ms ?? null,
        p95Ms: c?.latency.p95Ms ?? null,
      };
    });
    const stored = summary.servers;
    return {
      file,
      exists: true,
      fileBytes: fileBytes(file),
      entries: summary.entries,
      bytes: summary.bytes,
      oldest: iso(stored.length ? Math.min(...stored.map((s) => s.oldestStoredAt)) : undefined),
      newest: iso(stored.length ? Math.max(...stored.map((s) => s.newestStoredAt)) : undefined),
      hits: sum(servers, 'hits'),
      staleHits: sum(servers, 'staleHits'),
      misses: sum(servers, 'misses'),
      servers,
    };
  } finally {
    cdb.close();
  }
}

export interface PruneResult {
  file: string;
  removed: number;
  /**
   * How the freed space went back to the disk. 'vacuum': the file was rewritten (no serve process was
   * running). 'incremental': freed pages released in small steps, while serve runs. 'none': serve runs
   * and the file predates incremental vacuum, so it was left as it is (the next prune with no serve
   * running compacts it). 'busy': another process held the database too long.
   */
  compaction: 'vacuum' | 'incremental' | 'none' | 'busy';
  /** True when the file was rewritten by a full VACUUM. */
  vacuumed: boolean;
  /** Serve processes with a live heartbeat in the database: why there was no full VACUUM. */
  serving: number[];
  fileBytesBefore: number;
  fileBytesAfter: number;
}

/** A serve process writes its status row every 5 s (telemetry/status.ts); three missed rounds: gone. */
const HEARTBEAT_FRESH_MS = 15_000;
/** Pages released per incremental step (4 KiB pages: 1 MiB), each step its own short transaction. */
const INCREMENTAL_PAGES = 256;

/**
 * Drops entries past their stale time (and over the size cap), then gives the space back to the disk,
 * without ever making a running serve process wait: deletes go in small batches, and a full VACUUM
 * (which holds the write lock while it rewrites the whole file) runs only when no serve is running.
 */
export function pruneCache(dir: string, limits = DEFAULT_LIMITS): PruneResult {
  const file = join(dir, DB_FILE);
  if (!existsSync(file)) return { file, removed: 0, compaction: 'none', vacuumed: false, serving: [], fileBytesBefore: 0, fileBytesAfter: 0 };
  const before = fileBytes(file);
  return withStore(dir, limits, (store, cdb) => {
    const removed = store.prune();
    const serving = liveServers(cdb.db);
    const compaction = compact(cdb.db, serving.length > 0);
    return { file, removed, compaction, vacuumed: compaction === 'vacuum', serving, fileBytesBefore: before, fileBytesAfter: fileBytes(file) };
  });
}

/** Pids of serve processes whose heartbeat is recent and that still run. */
export function liveServers(db: Database, now = Date.now()): number[] {
  const rows = db.prepare('SELECT pid FROM status WHERE updated_at >= ? ORDER BY pid').pluck().all(now - HEARTBEAT_FRESH_MS) as number[];
  return rows.filter((pid) => pid !== process.pid && isRunning(pid));
}

function compact(db: Database, serving: boolean): PruneResult['compaction'] {
  try {
    if (!serving) {
      // Also turns an older file into an incremental one, so that later prunes need no full VACUUM.
      db.pragma('auto_vacuum = INCREMENTAL');
      db.exec('VACUUM');
      db.pragma('wal_checkpoint(TRUNCATE)');
      return 'vacuum';
    }
    let mode: PruneResult['compaction'] = 'none';
    if (db.pragma('auto_vacuum', { simple: true }) === 2) {
      // Bounded by what was free when it started: serve's own deletes meanwhile wait for the next prune.
      const steps = Math.ceil((db.pragma('freelist_count', { simple: true }) as number) / INCREMENTAL_PAGES);
      for (let i = 0; i < steps; i++) db.pragma(`incremental_vacuum(${INCREMENTAL_PAGES})`);
      mode = 'incremental';
    }
    // PASSIVE: copies what it can into the file and never waits for serve's readers or writers.
    db.pragma('wal_checkpoint(PASSIVE)');
    return mode;
  } catch {
    return 'busy'; // the entries are gone all the same; the space comes back next time
  }
}

/** A command may wait for serve's short writes (never the other way round): a patient connection. */
function withStore<T>(dir: string, limits: CacheLimits, fn: (store: SqliteResultStore, cdb: CacheDb) => T): T {
  const cdb = openDatabase(dir, { busyTimeoutMs: PATIENT_BUSY_TIMEOUT_MS });
  try {
    if (!cdb.writable) {
      throw new McpxError(`cannot write the cache database in ${dir}`, {
        code: 'CACHE',
        suggestion: 'check the permissions of the directory and the free disk space',
      });
    }
    const store = new SqliteResultStore(cdb, limits);
    try {
      return fn(store, cdb);
    } finally {
      store.close();
    }
  } finally {
    cdb.close();
  }
}

function fileBytes(file: string): number {
  let n = 0;
  for (const f of [file, `${file}-wal`]) if (existsSync(f)) n += statSync(f).size;
  return n;
}

function iso(ms: number | undefined): string | null {
  return ms === undefined || ms === null ? null : new Date(ms).toISOString();
}

function sum(rows: ServerCacheStats[], k: 'hits' | 'staleHits' | 'misses'): number {
  return rows.reduce((n, r) => n + r[k], 0);
}
