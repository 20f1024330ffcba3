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
  const { dir, configFile, names } = where(opts.config);
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
function where(flag?: string): { dir: string; configFile?: string; names?: string[] } {
  try {
    const { config } = loadConfig(flag);
    return { dir: config.cache.dir, configFile: config.file, names: config.servers.map((s) => s.name) };
  } catch (e) {
    if (!flag && !process.env.MCPX_CONFIG && isMcpxError(e) && e.code === 'CONFIG_NOT_FOUND') return { dir: defaultCacheDir() };
    throw e;
  }
}
