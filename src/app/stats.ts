import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DB_FILE } from '../cache/db.js';
import { readStats, type ServerStats } from '../cache/stats.js';
import { loadConfig } from '../config/index.js';
import { defaultCacheDir } from '../config/paths.js';
import { errorMessage, isMcpxError, McpxError } from '../errors.js';

/**
 * `mcpx stats`, headless: what serve processes recorded in the `stats` table, per server, read from
 * the database opened read-only (a missing database is reported, never created).
 *
 * savedShare: fresh cache hits / (hits + stale hits + misses), i.e. the share of cache lookups that
 * were answered without asking the child. A stale hit is not counted as saved: it is served after
 * the child failed or was skipped (breaker open), so the call was not avoided.
 */
export interface StatsRow extends ServerStats {
  savedShare: number | null;
  /** False for a server that has counts but is no longer in the config. */
  configured: boolean;
}

export interface StatsReport {
  file: string;
  exists: boolean;
  config?: string;
  servers: StatsRow[];
}

export function collectStats(opts: { config?: string } = {}): StatsReport {
  const { dir, configFile, names } = cacheDirFor(opts.config);
  const file = join(dir, DB_FILE);
  if (!existsSync(file)) return { file, exists: false, config: configFile, servers: [] };
  let db: Database.Database | undefined;
  let rows: ServerStats[];
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 2000 });
    const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'stats'").get() !== undefined;
    rows = hasTable ? readStats(db) : [];
  } catch (e) {
    throw new McpxError(`cannot read ${file}: ${errorMessage(e)}`, { code: 'CACHE', file, suggestion: 'run `mcpx doctor` to check the database' });
  } finally {
    db?.close();
  }
  const servers = rows.map((r): StatsRow => {
    const lookups = r.hits + r.staleHits + r.misses;
    return { ...r, savedShare: lookups ? r.hits / lookups : null, configured: names === undefined || names.includes(r.server) };
  });
  return { file, exists: true, config: configFile, servers };
}

/** The configured cache dir; with no config file at all, the default one (like `mcpx cache`). */
export function cacheDirFor(flag?: string): { dir: string; configFile?: string; names?: string[] } {
  try {
    const { config } = loadConfig(flag);
    return { dir: config.cache.dir, configFile: config.file, names: config.servers.map((s) => s.name) };
  } catch (e) {
    if (!flag && !process.env.MCPX_CONFIG && isMcpxError(e) && e.code === 'CONFIG_NOT_FOUND') return { dir: defaultCacheDir() };
    throw e;
  }
}

/**
 * The report in Prometheus text exposition format (version 0.0.4): one counter family per stats
 * counter and the latency histogram (`mcpx_call_duration_ms`: cumulative `_bucket{le=…}` through
 * `le="+Inf"`, `_sum`, `_count`), labelled by server. Cache hits take no latency sample.
 */
export function prometheusText(r: StatsReport): string {
  const out: string[] = [];
  const counters: [string, string, (s: StatsRow) => number][] = [
    ['mcpx_calls_total', 'Calls through mcpx (tools/call, resources/read, prompts/get).', (s) => s.calls],
    ['mcpx_errors_total', 'Calls that failed: an error answer, the child down, or the queue full.', (s) => s.errors],
    ['mcpx_timeouts_total', 'Calls the child did not answer within the deadline.', (s) => s.timeouts],
    ['mcpx_breaker_opens_total', 'Times the circuit breaker opened.', (s) => s.breakerOpens],
    ['mcpx_quota_held_total', 'Calls the rate limit held back.', (s) => s.quotaHeld],
    ['mcpx_output_cuts_total', 'Tool answers cut to the output budget (maxOutputTokens).', (s) => s.cuts],
    ['mcpx_output_cut_tokens_total', 'Tokens (4 characters each) left out of cut answers, for mcpx__more.', (s) => s.cutTokens],
    ['mcpx_cache_hits_total', 'Calls answered from the fresh cache.', (s) => s.hits],
    ['mcpx_cache_stale_hits_total', 'Calls answered from the stale cache after a failure.', (s) => s.staleHits],
    ['mcpx_cache_misses_total', 'Cacheable calls not found in the cache.', (s) => s.misses],
  ];
  for (const [name, help, value] of counters) {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`);
    for (const s of r.servers) out.push(`${name}{server="${label(s.server)}"} ${value(s)}`);
  }
  const h = 'mcpx_call_duration_ms';
  out.push(`# HELP ${h} Time the child took to answer, in milliseconds (cache hits excluded).`, `# TYPE ${h} histogram`);
  for (const s of r.servers) {
    const server = `server="${label(s.server)}"`;
    let cumulative = 0;
    for (const b of s.histogram) {
      cumulative += b.count;
      out.push(`${h}_bucket{${server},le="${b.le === null ? '+Inf' : b.le}"} ${cumulative}`);
    }
    out.push(`${h}_sum{${server}} ${s.latency.sumMs}`, `${h}_count{${server}} ${s.latency.count}`);
  }
  return out.join('\n') + '\n';
}

/** A label value: backslash, double quote and newline escaped. */
function label(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
