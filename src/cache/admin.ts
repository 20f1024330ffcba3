import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { McpxError } from '../errors.js';
import { openDatabase, DB_FILE, type CacheDb } from './db.js';
import { readStats, type ServerStats } from './stats.js';
import { withBusyRetry } from './sqlite-errors.js';
import { SqliteResultStore, type StoreSummary } from './store.js';

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

/** What the store holds (entries) and how it was used (this host's counters), per server and summed. */
export interface CacheUsage extends CacheFigures {
  servers: ServerCacheStats[];
}

export interface StatsResult extends CacheUsage {
  file: string;
  exists: boolean;
  fileBytes: number;
}

export function cacheStats(dir: string): StatsResult {
  const file = join(dir, DB_FILE);
  const empty: StatsResult = { file, exists: false, fileBytes: 0, entries: 0, bytes: 0, oldest: null, newest: null, hits: 0, staleHits: 0, misses: 0, servers: [] };
  if (!existsSync(file)) return empty;
  const cdb = openDatabase(dir);
  try {
    const store = new SqliteResultStore(cdb, DEFAULT_LIMITS);
    const summary = store.stats();
    store.close();
    return { file, exists: true, fileBytes: fileBytes(file), ...cacheUsage(summary, readStats(cdb)) };
  } finally {
    cdb.close();
  }
}

/** A store's summary joined with the stats counters (a server may have either without the other). */
export function cacheUsage(summary: StoreSummary, stats: ServerStats[]): CacheUsage {
  const counters = new Map(stats.map((s) => [s.server, s]));
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
    entries: summary.entries,
    bytes: summary.bytes,
    oldest: iso(stored.length ? Math.min(...stored.map((s) => s.oldestStoredAt)) : undefined),
    newest: iso(stored.length ? Math.max(...stored.map((s) => s.newestStoredAt)) : undefined),
    hits: sum(servers, 'hits'),
    staleHits: sum(servers, 'staleHits'),
    misses: sum(servers, 'misses'),
    servers,
  };
}

export interface PruneResult {
  file: string;
  removed: number;
  vacuumed: boolean;
  fileBytesBefore: number;
  fileBytesAfter: number;
}

/** Drops entries past their stale time (and over the size cap), then gives the space back to the disk. */
export function pruneCache(dir: string, limits = DEFAULT_LIMITS): PruneResult {
  const file = join(dir, DB_FILE);
  if (!existsSync(file)) return { file, removed: 0, vacuumed: false, fileBytesBefore: 0, fileBytesAfter: 0 };
  const before = fileBytes(file);
  return withStore(dir, limits, (store, cdb) => {
    const removed = store.prune();
    let vacuumed = true;
    try {
      // Rewrites the file; waits (busy_timeout) for serve processes' writes, never blocks their reads.
      withBusyRetry(() => cdb.db.exec('VACUUM'));
      cdb.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      vacuumed = false; // busy for too long: the entries are gone all the same, the space comes back next time
    }
    return { file, removed, vacuumed, fileBytesBefore: before, fileBytesAfter: fileBytes(file) };
  });
}

function withStore<T>(dir: string, limits: CacheLimits, fn: (store: SqliteResultStore, cdb: CacheDb) => T): T {
  const cdb = openDatabase(dir);
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
