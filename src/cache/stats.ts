import type { Database, Statement } from 'better-sqlite3';
import { errorMessage } from '../errors.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import type { CacheDb } from './db.js';
import { isBusy } from './sqlite-errors.js';

/**
 * Per-server counters and a latency histogram, in the `stats` table (one row per server and name).
 * Counted in memory and added to the table every flushMs in one transaction, never a write per call.
 * Latency is kept as cumulative bucket counts (latency_le_<ms>), so any process can add to it and
 * percentiles come out as bucket upper bounds.
 */
export type Counter = 'hits' | 'stale_hits' | 'misses' | 'calls' | 'errors' | 'timeouts' | 'breaker_opens' | 'quota_held' | 'cuts' | 'cut_tokens';
export const COUNTERS: readonly Counter[] = ['hits', 'stale_hits', 'misses', 'calls', 'errors', 'timeouts', 'breaker_opens', 'quota_held', 'cuts', 'cut_tokens'];

/** Upper bounds in ms; the last bucket (inf) holds everything slower. */
export const LATENCY_BUCKETS_MS: readonly number[] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000];
const bucketName = (i: number): string => (i < LATENCY_BUCKETS_MS.length ? `latency_le_${LATENCY_BUCKETS_MS[i]}` : 'latency_le_inf');
const MAX = 'latency_max_ms';

export class StatsRecorder {
  private pending = new Map<string, Map<string, number>>();
  private readonly upsert: Statement;
  private readonly timer: NodeJS.Timeout;
  private readonly log: Logger;
  private warned = false;

  constructor(private readonly cdb: CacheDb, opts: { flushMs?: number; log?: Logger } = {}) {
    this.log = opts.log ?? defaultLog;
    // Counters add up across processes; the maximum is the one value that does not.
    this.upsert = cdb.db.prepare(`INSERT INTO stats (server, name, value) VALUES (?, ?, ?)
      ON CONFLICT (server, name) DO UPDATE SET value =
        CASE WHEN excluded.name = '${MAX}' THEN max(value, excluded.value) ELSE value + excluded.value END`);
    this.timer = setInterval(() => this.flush(), opts.flushMs ?? 1000);
    this.timer.unref();
  }

  count(server: string, counter: Counter, n = 1): void {
    this.add(server, counter, n);
  }

  latency(server: string, ms: number): void {
    const v = Math.max(0, Math.round(ms));
    let i = LATENCY_BUCKETS_MS.findIndex((b) => v <= b);
    if (i < 0) i = LATENCY_BUCKETS_MS.length;
    this.add(server, bucketName(i), 1);
    this.add(server, 'latency_count', 1);
    this.add(server, 'latency_sum_ms', v);
    const m = this.bucket(server);
    m.set(MAX, Math.max(m.get(MAX) ?? 0, v));
  }

  /**
   * Writes what was counted since the last flush, waiting no longer than the connection's busy timeout
   * (serve's thread). On failure the counts are kept for the next try: they are a few numbers per server.
   */
  flush(): void {
    this.write((fn) => fn());
  }

  /** The last flush may wait for a lock: the process is leaving, no call is waiting on it. */
  close(): void {
    clearInterval(this.timer);
    this.write((fn) => this.cdb.patiently(fn));
  }

  private write(run: (fn: () => void) => void): void {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    if (!this.cdb.writable || !this.cdb.db.open) return; // nowhere to keep them: drop rather than grow
    try {
      run(() =>
        this.cdb.db.transaction(() => {
          for (const [server, m] of batch) for (const [name, value] of m) this.upsert.run(server, name, value);
        }).immediate(),
      );
    } catch (e) {
      for (const [server, m] of batch) for (const [name, value] of m) {
        if (name === MAX) this.bucket(server).set(MAX, Math.max(this.bucket(server).get(MAX) ?? 0, value));
        else this.add(server, name, value);
      }
      // Busy is expected now and then (another process writing): only other failures are worth a warning.
      if (isBusy(e)) {
        this.log.debug('cache: stats not written (database busy); next round');
      } else {
        if (!this.warned) this.log.warn(`cache: could not write stats (${errorMessage(e)}); will retry`);
        this.warned = true;
      }
    }
  }

  private add(server: string, name: string, n: number): void {
    const m = this.bucket(server);
    m.set(name, (m.get(name) ?? 0) + n);
  }

  private bucket(server: string): Map<string, number> {
    let m = this.pending.get(server);
    if (!m) this.pending.set(server, (m = new Map()));
    return m;
  }
}

export interface ServerStats {
  server: string;
  hits: number;
  staleHits: number;
  misses: number;
  calls: number;
  errors: number;
  timeouts: number;
  breakerOpens: number;
  /** Calls the rate limit held back (answered from the cache, made to wait, or refused). */
  quotaHeld: number;
  /** Answers cut to the output budget, and the tokens left out of them (paged with mcpx__more). */
  cuts: number;
  cutTokens: number;
  latency: { count: number; meanMs: number | null; p50Ms: number | null; p95Ms: number | null; maxMs: number | null; sumMs: number };
  /** Calls per latency bucket (not cumulative), one per LATENCY_BUCKETS_MS bound, then the slower-than-all bucket (le: null). */
  histogram: { le: number | null; count: number }[];
}

/** Everything recorded so far, one row per server, with p50/p95 as histogram bucket upper bounds. */
export function readStats(cdb: CacheDb | Database): ServerStats[] {
  const db = 'db' in cdb ? cdb.db : cdb;
  const rows = db.prepare('SELECT server, name, value FROM stats ORDER BY server').all() as { server: string; name: string; value: number }[];
  const by = new Map<string, Map<string, number>>();
  for (const r of rows) {
    if (!by.has(r.server)) by.set(r.server, new Map());
    by.get(r.server)!.set(r.name, r.value);
  }
  return [...by].map(([server, m]) => {
    const c = (name: string): number => m.get(name) ?? 0;
    const count = c('latency_count');
    const max = m.has(MAX) ? c(MAX) : null;
    const pct = (p: number): number | null => {
      if (count === 0) return null;
      let seen = 0;
      for (let i = 0; i <= LATENCY_BUCKETS_MS.length; i++) {
        seen += c(bucketName(i));
        if (seen >= p * count) return i < LATENCY_BUCKETS_MS.length ? Math.min(LATENCY_BUCKETS_MS[i]!, max ?? Infinity) : max;
      }
      return max;
    };
    return {
      server,
      hits: c('hits'),
      staleHits: c('stale_hits'),
      misses: c('misses'),
      calls: c('calls'),
      errors: c('errors'),
      timeouts: c('timeouts'),
      breakerOpens: c('breaker_opens'),
      quotaHeld: c('quota_held'),
      cuts: c('cuts'),
      cutTokens: c('cut_tokens'),
      latency: { count, meanMs: count ? Math.round(c('latency_sum_ms') / count) : null, p50Ms: pct(0.5), p95Ms: pct(0.95), maxMs: max, sumMs: c('latency_sum_ms') },
      histogram: [...LATENCY_BUCKETS_MS, null].map((le, i) => ({ le, count: c(bucketName(i)) })),
    };
  });
}
