import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DB_FILE } from '../cache/db.js';
import { errorMessage, McpxError } from '../errors.js';
import { readAudit, type AuditRecord } from '../telemetry/audit.js';
import { parseDuration } from '../util/duration.js';
import { log } from '../util/log.js';
import { cacheDirFor } from './stats.js';

/**
 * `mcpx audit`, headless: the audit trail serve processes recorded (one row per tools/call,
 * resources/read and prompts/get), newest first, read from the database opened read-only; a missing
 * database is reported, never created. Strings are redacted once more on the way out (secrets
 * registered by loadConfig), in case a row predates a secret's registration.
 */
export const OUTCOMES = ['ok', 'error', 'timeout', 'breaker-open', 'quota', 'stale', 'hit', 'fallback', 'child-down', 'queue-full', 'cancelled'] as const;

export interface AuditOptions {
  config?: string;
  /** A duration ("1h", "30m", "2d"): only records newer than that. */
  since?: string;
  server?: string;
  outcome?: string;
  limit?: number | string;
}

export interface AuditReport {
  file: string;
  exists: boolean;
  config?: string;
  filter: { since?: string; sinceTs?: number; server?: string; outcome?: string; limit: number };
  records: (AuditRecord & { at: string })[];
}

export function collectAudit(opts: AuditOptions = {}): AuditReport {
  const filter = parseFilter(opts);
  const { dir, configFile } = cacheDirFor(opts.config);
  const file = join(dir, DB_FILE);
  if (!existsSync(file)) return { file, exists: false, config: configFile, filter, records: [] };
  let db: Database.Database | undefined;
  let rows: AuditRecord[];
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 2000 });
    rows = readAudit(db, { since: filter.sinceTs, server: filter.server, outcome: filter.outcome, limit: filter.limit });
  } catch (e) {
    throw new McpxError(`cannot read ${file}: ${errorMessage(e)}`, { code: 'CACHE', file, suggestion: 'run `mcpx doctor` to check the database' });
  } finally {
    db?.close();
  }
  const records = rows.map((r) => log.redactDeep({ ...r, at: new Date(r.ts).toISOString() }));
  return { file, exists: true, config: configFile, filter, records };
}

function parseFilter(opts: AuditOptions): AuditReport['filter'] {
  let sinceTs: number | undefined;
  if (opts.since !== undefined) {
    const ms = parseDuration(opts.since);
    if (ms === undefined) throw usage(`--since must be a duration ("30m", "1h", "2d"), got "${opts.since}"`);
    sinceTs = Date.now() - ms;
  }
  if (opts.outcome !== undefined && !(OUTCOMES as readonly string[]).includes(opts.outcome)) {
    throw usage(`--outcome must be one of ${OUTCOMES.join(', ')}; got "${opts.outcome}"`);
  }
  const limit = opts.limit === undefined ? 50 : Number(opts.limit);
  if (!Number.isInteger(limit) || limit < 1) throw usage(`--limit must be a whole number >= 1, got "${String(opts.limit)}"`);
  return { since: opts.since, sinceTs, server: opts.server, outcome: opts.outcome, limit };
}

function usage(message: string): McpxError {
  return new McpxError(message, { code: 'USAGE', suggestion: 'see `mcpx audit --help`' });
}
