import type { Database, Statement } from 'better-sqlite3';
import type { CacheDb } from '../cache/db.js';
import { withBusyRetry } from '../cache/sqlite-errors.js';
import { looksSecret } from '../config/secrets.js';
import type { AuditConfig } from '../config/types.js';
import { errorMessage } from '../errors.js';
import type { CallEvent, Pipeline } from '../pipeline/call.js';
import { canonicalJson, sha256 } from '../util/canonical.js';
import { log as defaultLog, type Logger } from '../util/log.js';

/**
 * The audit trail: one row per tools/call, resources/read and prompts/get, in the `audit` table.
 *
 * On the hot path a call only appends its event (by reference) to an in-memory batch. Everything
 * else happens when the batch is written, every flushMs (1 s) in one transaction and on close:
 * the args hash (sha256 of the canonical JSON) or the redacted args, the result size
 * (Buffer.byteLength of the JSON; free on a cache hit, where the stored entry's size is known; null
 * when there was no answer), and the redaction of the error message. Rows older than
 * retentionDays are deleted shortly after start and every hour. Timers are unref'd.
 */
export interface AuditRow {
  ts: number;
  pid: number;
  server: string;
  kind: CallEvent['kind'];
  name: string;
  argsHash: string | null;
  argsRedacted: string | null;
  durationMs: number;
  outcome: string;
  reason: string | null;
  error: string | null;
  resultBytes: number | null;
}

export interface AuditOptions {
  flushMs?: number;
  pruneEveryMs?: number;
  /** First prune this long after start (default 2 s: off the way to the first answers). */
  firstPruneMs?: number;
  log?: Logger;
  /** Keep at most this many unwritten events (a database that stays busy must not grow memory). */
  maxPending?: number;
}

interface Pending {
  ts: number;
  e: CallEvent;
}

const DAY_MS = 86_400_000;

export class AuditLog {
  private pending: Pending[] = [];
  private readonly insert: Statement;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly log: Logger;
  private readonly maxPending: number;
  private warned = false;
  private closed = false;

  constructor(
    private readonly cdb: CacheDb,
    private readonly config: AuditConfig,
    opts: AuditOptions = {},
  ) {
    this.log = opts.log ?? defaultLog;
    this.maxPending = opts.maxPending ?? 10_000;
    this.insert = cdb.db.prepare(`INSERT INTO audit
      (ts, pid, server, kind, name, args_hash, args_redacted, duration_ms, outcome, reason, error, result_bytes)
      VALUES (@ts, @pid, @server, @kind, @name, @argsHash, @argsRedacted, @durationMs, @outcome, @reason, @error, @resultBytes)`);
    const flush = setInterval(() => this.flush(), opts.flushMs ?? 1000);
    const prune = setInterval(() => this.prune(), opts.pruneEveryMs ?? 3_600_000);
    const first = setTimeout(() => this.prune(), opts.firstPruneMs ?? 2000);
    for (const t of [flush, prune, first]) t.unref();
    this.timers.push(flush, prune, first);
  }

  /** The hot path: remember the event; nothing is computed or written here. */
  record(e: CallEvent, ts = Date.now()): void {
    if (this.closed || !this.cdb.writable) return;
    if (this.pending.length >= this.maxPending) this.pending.shift();
    this.pending.push({ ts, e });
  }

  /** Writes the batch in one transaction. On failure the batch is kept for the next try. */
  flush(): void {
    if (!this.pending.length || !this.cdb.db.open) return;
    const batch = this.pending;
    this.pending = [];
    try {
      const rows = batch.map((p) => this.row(p));
      withBusyRetry(() =>
        this.cdb.db.transaction(() => {
          for (const r of rows) this.insert.run(r);
        }).immediate(),
      );
      this.warned = false;
    } catch (e) {
      this.pending = [...batch, ...this.pending].slice(-this.maxPending);
      if (!this.warned) this.log.warn(`audit: could not write ${batch.length} record(s) (${errorMessage(e)}); will retry`);
      this.warned = true;
    }
  }

  /** Deletes rows older than retentionDays; returns how many. */
  prune(now = Date.now()): number {
    if (!this.cdb.writable || !this.cdb.db.open) return 0;
    try {
      const cutoff = now - this.config.retentionDays * DAY_MS;
      return withBusyRetry(() => this.cdb.db.prepare('DELETE FROM audit WHERE ts < ?').run(cutoff).changes, 5);
    } catch (e) {
      this.log.debug(`audit: prune failed (${errorMessage(e)}); the next round tries again`);
      return 0;
    }
  }

  close(): void {
    if (this.closed) return;
    for (const t of this.timers) clearTimeout(t);
    this.flush();
    this.closed = true;
  }

  private row({ ts, e }: Pending): AuditRow {
    const mode = this.config.args;
    return {
      ts,
      pid: process.pid,
      server: e.server,
      kind: e.kind,
      name: this.log.redact(e.name),
      argsHash: mode === 'hash' ? sha256(canonicalJson(e.args ?? {})) : null,
      argsRedacted: mode === 'redacted' ? canonicalJson(redactArgs(e.args ?? {}, this.log)) : null,
      durationMs: Math.round(e.ms * 100) / 100,
      outcome: e.outcome,
      reason: e.reason ?? null,
      error: e.error === undefined ? null : this.log.redact(e.error),
      resultBytes: e.bytes ?? resultBytes(e.result),
    };
  }
}

/** Arguments with secret values masked (the logger's secrets) and the values under secret-looking keys masked. */
export function redactArgs(value: unknown, logger: Logger = defaultLog): unknown {
  if (typeof value === 'string') return logger.redact(value);
  if (Array.isArray(value)) return value.map((v) => redactArgs(v, logger));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, looksSecret(k) ? '****' : redactArgs(v, logger)]));
  }
  return value;
}

function resultBytes(result: unknown): number | null {
  if (result === undefined) return null;
  try {
    return Buffer.byteLength(JSON.stringify(result) ?? '', 'utf8');
  } catch {
    return null;
  }
}

/** Listens to the pipeline's call events and records them (batched by the AuditLog). */
export function recordAudit(pipeline: Pipeline, audit: AuditLog): () => void {
  const onCall = (e: CallEvent) => audit.record(e);
  pipeline.on('call', onCall);
  return () => pipeline.off('call', onCall);
}

// ---- reading, for `mcpx audit` -----------------------------------------------------------------

export interface AuditFilter {
  /** Only records at or after this time (ms since the epoch). */
  since?: number;
  server?: string;
  outcome?: string;
  limit?: number;
}

export interface AuditRecord extends AuditRow {
  id: number;
}

/** Records, newest first. A database without the audit table (an older schema) has none. */
export function readAudit(db: Database, filter: AuditFilter = {}): AuditRecord[] {
  const has = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit'").get() !== undefined;
  if (!has) return [];
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.since !== undefined) (where.push('ts >= ?'), params.push(filter.since));
  if (filter.server !== undefined) (where.push('server = ?'), params.push(filter.server));
  if (filter.outcome !== undefined) (where.push('outcome = ?'), params.push(filter.outcome));
  const sql = `SELECT id, ts, pid, server, kind, name, args_hash AS argsHash, args_redacted AS argsRedacted,
      duration_ms AS durationMs, outcome, reason, error, result_bytes AS resultBytes
    FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ts DESC, id DESC LIMIT ?`;
  return db.prepare(sql).all(...params, filter.limit ?? 100) as AuditRecord[];
}
