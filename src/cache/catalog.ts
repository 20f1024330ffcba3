import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database, { type Statement } from 'better-sqlite3';
import { errorMessage } from '../errors.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import { DB_FILE, type CacheDb } from './db.js';
import { withBusyRetry } from './sqlite-errors.js';

/**
 * A child's catalog (tools, prompts, resources, templates) by fingerprint, so that serve can list a
 * lazy or slow child's tools before it has started. JSON text; failures are logged, never thrown.
 */
export class CatalogStore {
  private readonly select: Statement;
  private readonly upsert: Statement;
  private readonly log: Logger;

  constructor(private readonly cdb: CacheDb, opts: { log?: Logger } = {}) {
    this.log = opts.log ?? defaultLog;
    this.select = cdb.db.prepare('SELECT data, fetched_at FROM catalog WHERE fingerprint = ?');
    this.upsert = cdb.db.prepare(`INSERT INTO catalog (fingerprint, server, data, fetched_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (fingerprint) DO UPDATE SET server = excluded.server, data = excluded.data, fetched_at = excluded.fetched_at`);
  }

  get(fingerprint: string): { data: unknown; fetchedAt: number } | undefined {
    try {
      const row = this.select.get(fingerprint) as { data: string; fetched_at: number } | undefined;
      return row && { data: JSON.parse(row.data), fetchedAt: row.fetched_at };
    } catch (e) {
      this.log.debug(`cache: could not read the catalog (${errorMessage(e)})`);
      return undefined;
    }
  }

  /** Returns false when not stored (read-only cache, write failure). */
  put(fingerprint: string, server: string, data: unknown, now = Date.now()): boolean {
    if (!this.cdb.writable) return false;
    try {
      // Two tries of serve's short busy timeout at most: a catalog not stored now is stored at the child's next start.
      withBusyRetry(() => this.upsert.run(fingerprint, server, JSON.stringify(data), now), 2);
      return true;
    } catch (e) {
      this.log.warn(`cache: could not store the catalog of "${server}" (${errorMessage(e)})`);
      return false;
    }
  }
}

/**
 * The stored instructions of these children (by fingerprint), for serve's `initialize` answer: one
 * query, no JSON parsed here. Empty when there is no database yet or it cannot be read: the answer
 * then names the servers without their texts.
 */
export function readStoredInstructions(dir: string, fingerprints: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  if (!fingerprints.length) return out;
  withReadOnlyDb(dir, 'stored instructions', (db) => {
    const rows = db
      .prepare(`SELECT fingerprint, json_extract(data, '$.instructions') AS text FROM catalog WHERE fingerprint IN (${fingerprints.map(() => '?').join(',')})`)
      .all(...fingerprints) as { fingerprint: string; text: unknown }[];
    for (const r of rows) if (typeof r.text === 'string' && r.text.trim()) out.set(r.fingerprint, r.text);
  });
  return out;
}

/**
 * What serve reads before the runtime is loaded, `what` naming it in the debug line of a
 * failure: the file opened read-only (never created or migrated), closed again. Undefined when there
 * is no database yet or it cannot be read.
 */
export function withReadOnlyDb<T>(dir: string, what: string, read: (db: Database.Database) => T): T | undefined {
  const file = join(dir, DB_FILE);
  if (!existsSync(file)) return undefined;
  let db: Database.Database | undefined;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true, timeout: 1000 });
    return read(db);
  } catch (e) {
    defaultLog.debug(`cache: could not read ${what} (${errorMessage(e)})`);
    return undefined;
  } finally {
    db?.close();
  }
}
