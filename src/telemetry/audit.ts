import type { Database, Statement } from 'better-sqlite3';
import type { CacheDb } from '../cache/db.js';
import { isBusy } from '../cache/sqlite-errors.js';
import { looksSecret } from '../config/secrets.js';
import type { AuditConfig } from '../config/types.js';
import { errorMessage } from '../errors.js';
import type { CallEvent, Outcome } from '../pipeline/call.js';
import { canonicalJson, sha256 } from '../util/canonical.js';
import { jsonOf, rawJson } from '../util/raw-json.js';
import { log as defaultLog, type Logger } from '../util/log.js';

/**
 * The audit trail: one row per tools/call, resources/read and prompts/get, in the `audit` table,
 * cancelled calls included.
 *
 * On the hot path a call only appends its event to an in-memory batch (see record). Everything
 * else happens when the batch is written, in one transaction, at most flushMs (50 ms) after the first
 * event of the batch (no timer while no call comes), and on close:
 * the args hash (sha256 of the canonical JSON) or the redacted args, the result size
 * (Buffer.byteLength of the JSON; free on a cache hit, where the stored entry's size is known; null
 * when there was no answer), and the redaction of the error message. Rows older than
 * retentionDays are deleted shortly after start and every hour. Timers are unref'd.
 *
 * Why 50 ms and not a second: an event may hold its call's answer until it becomes a row, and events held
 * for a second outlive the young generation's collections and are copied to the old one, which costs
 * more CPU per call than the transactions of 20 batches a second. A clean stop (close) writes
 * everything; a crash loses the events of the last flushMs, and any rows a busy database kept out.
 *
 * Memory stays bounded while the database cannot be written (locked by another process, full disk):
 * events become rows at the first flush, so results are no longer held; unwritten rows wait for the
 * next flush, at most maxPending of them (and maxPendingBytes), the oldest dropped first and counted.
 * A flush never waits for a lock longer than the connection's busy timeout (serve's thread); only the
 * last one, on close, may.
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
  /** Who called: the token name of an HTTP caller (`http.tokens`), `local:<user>` over stdio and the CLI (null in older records). */
  caller: string | null;
  /** The answer was cut to the output budget: its size and what the client got first, in tokens; else null. */
  cutTokens: number | null;
  cutKeptTokens: number | null;
}

/**
 * What the audit records: the pipeline's call event. A call cancelled upstream is recorded from an
 * event with `outcome: 'cancelled'` (no reason, error or result; `ms` until the cancel).
 */
export type AuditOutcome = Outcome;
export type AuditEvent = CallEvent;

export interface AuditOptions {
  /** How long an event waits at most before it is written (default 50 ms). */
  flushMs?: number;
  pruneEveryMs?: number;
  /** First prune this long after start (default 2 s: off the way to the first answers). */
  firstPruneMs?: number;
  log?: Logger;
  /** Keep at most this many unwritten records (a database that stays busy must not grow memory). */
  maxPending?: number;
  /** And at most about this many bytes of them (redacted args can be large; default 8 MiB). */
  maxPendingBytes?: number;
}

interface Pending {
  ts: number;
  e: AuditEvent;
}

const DAY_MS = 86_400_000;
/** How soon a batch a busy database kept out is tried again when no call comes meanwhile. */
const RETRY_MS = 1000;
/** Failed flushes in a row before a busy database is worth a warning (busy now and then is normal). */
const BUSY_FLUSHES_BEFORE_WARNING = 5;
/** Old rows deleted per statement by prune(): a writer in another process never waits for all of them. */
const PRUNE_BATCH = 1000;

export class AuditLog {
  /** Events since the last flush, by reference (cheap on the hot path). */
  private pending: Pending[] = [];
  /** Rows computed but not written yet: the events' results are no longer held. */
  private backlog: AuditRow[] = [];
  private backlogBytes = 0;
  private readonly insert: Statement;
  private readonly deleteOld: Statement;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly flushMs: number;
  /** Armed by the first event after a write (or by a failed write), so none while nothing happens. */
  private flushTimer?: NodeJS.Timeout;
  private readonly log: Logger;
  private readonly maxPending: number;
  private readonly maxPendingBytes: number;
  /** Flushes that failed in a row; a warning once it is clearly not a moment's contention. */
  private failures = 0;
  private warned = false;
  private closed = false;
  /** Records lost because the database could not be written for too long (kept as a count). */
  dropped = 0;
  /** How many of them the log has been told about. */
  private reported = 0;

  constructor(
    private readonly cdb: CacheDb,
    private readonly config: AuditConfig,
    opts: AuditOptions = {},
  ) {
    this.log = opts.log ?? defaultLog;
    this.maxPending = opts.maxPending ?? 10_000;
    this.maxPendingBytes = opts.maxPendingBytes ?? 8 * 1024 * 1024;
    this.insert = cdb.db.prepare(`INSERT INTO audit
      (ts, pid, server, kind, name, args_hash, args_redacted, duration_ms, outcome, reason, error, result_bytes, caller, cut_tokens, cut_kept_tokens)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`); // positional: a third cheaper per row than named parameters
    this.deleteOld = cdb.db.prepare('DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE ts < ? LIMIT ?)');
    this.flushMs = opts.flushMs ?? 50;
    const prune = setInterval(() => this.prune(), opts.pruneEveryMs ?? 3_600_000);
    const first = setTimeout(() => this.prune(), opts.firstPruneMs ?? 2000);
    for (const t of [prune, first]) t.unref();
    this.timers.push(prune, first);
  }

  /**
   * The hot path: remember the event; nothing is written here. An answer whose text the child sent is
   * measured now (one byteLength) and let go: held until the flush, answers outlived the young
   * generation and grew the old one by their size per call. Other answers are measured at the flush.
   */
  record(e: AuditEvent, ts = Date.now()): void {
    if (this.closed || !this.cdb.writable) return;
    // More than maxPending calls within one flush interval: the newest are counted, not kept.
    if (this.pending.length >= this.maxPending) this.dropped++;
    else {
      const text = e.bytes === undefined && typeof e.result === 'object' && e.result !== null ? rawJson.get(e.result) : undefined;
      this.pending.push({ ts, e: text === undefined ? e : { ...e, result: undefined, bytes: Buffer.byteLength(text, 'utf8') } });
    }
    this.flushTimer ??= this.flushIn(this.flushMs);
  }

  /** How many records wait in memory (events since the last flush and unwritten rows). */
  get waiting(): number {
    return this.pending.length + this.backlog.length;
  }

  /** Writes what waits in one transaction, waiting no longer than the busy timeout. On failure it waits for the next try. */
  flush(): void {
    this.write((fn) => fn());
    // Rows a busy database kept out are tried again a little later, whether calls come or not.
    if (this.backlog.length && !this.flushTimer && !this.closed) this.flushTimer = this.flushIn(RETRY_MS);
  }

  private flushIn(ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, ms);
    timer.unref();
    return timer;
  }

  /** Deletes rows older than retentionDays, a batch at a time; returns how many. */
  prune(now = Date.now()): number {
    if (!this.cdb.writable || !this.cdb.db.open) return 0;
    const cutoff = now - this.config.retentionDays * DAY_MS;
    let removed = 0;
    try {
      for (;;) {
        const n = this.deleteOld.run(cutoff, PRUNE_BATCH).changes;
        removed += n;
        if (n < PRUNE_BATCH) break;
      }
    } catch (e) {
      this.log.debug(`audit: prune stopped (${errorMessage(e)}); the next round goes on`);
    }
    return removed;
  }

  close(): void {
    if (this.closed) return;
    for (const t of this.timers) clearTimeout(t);
    clearTimeout(this.flushTimer);
    // The last write may wait for a lock: the process is leaving, no call waits on it.
    this.write((fn) => this.cdb.patiently(fn));
    this.dropped += this.backlog.length;
    if (this.dropped > this.reported) this.log.warn(`audit: ${this.dropped - this.reported} record(s) could not be written to ${this.cdb.path} and were lost`);
    this.closed = true;
  }

  private write(run: (fn: () => void) => void): void {
    if (!this.cdb.db.open) return;
    if (this.pending.length) {
      const events = this.pending;
      this.pending = [];
      for (const p of events) {
        const r = this.row(p);
        this.backlog.push(r);
        this.backlogBytes += rowBytes(r);
      }
      this.trim();
    }
    if (!this.backlog.length) return;
    const rows = this.backlog;
    try {
      run(() =>
        this.cdb.db.transaction(() => {
          for (const r of rows) {
            this.insert.run(r.ts, r.pid, r.server, r.kind, r.name, r.argsHash, r.argsRedacted, r.durationMs, r.outcome, r.reason, r.error, r.resultBytes, r.caller, r.cutTokens, r.cutKeptTokens);
          }
        }).immediate(),
      );
      this.backlog = [];
      this.backlogBytes = 0;
      if (this.warned) {
        const lost = this.dropped - this.reported;
        this.log.info(`audit: writing to ${this.cdb.path} again${lost ? ` (${lost} record(s) lost meanwhile)` : ''}`);
        this.reported = this.dropped;
      }
      this.failures = 0;
      this.warned = false;
    } catch (e) {
      this.failures++;
      if (!this.warned && (!isBusy(e) || this.failures >= BUSY_FLUSHES_BEFORE_WARNING)) {
        this.warned = true;
        this.log.warn(`audit: could not write ${rows.length} record(s) to ${this.cdb.path} (${errorMessage(e)}); keeping up to ${this.maxPending} in memory and retrying`);
      }
    }
  }

  /** Past the limits, the oldest unwritten rows go (counted): one splice, however many. */
  private trim(): void {
    let drop = 0;
    while (this.backlog.length - drop > 1 && (this.backlog.length - drop > this.maxPending || this.backlogBytes > this.maxPendingBytes)) {
      this.backlogBytes -= rowBytes(this.backlog[drop++]!);
    }
    if (!drop) return;
    this.backlog.splice(0, drop);
    this.dropped += drop;
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
      caller: e.caller ?? null,
      cutTokens: e.cut?.tokens ?? null,
      cutKeptTokens: e.cut?.keptTokens ?? null,
    };
  }
}

/** Roughly what a row takes in memory: its strings, and a fixed part. */
function rowBytes(r: AuditRow): number {
  return 200 + r.server.length + r.name.length + (r.argsHash?.length ?? 0) + (r.argsRedacted?.length ?? 0) + (r.error?.length ?? 0);
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
    return Buffer.byteLength(jsonOf(result) ?? '', 'utf8'); // the child's own text when known (children/raw.ts): not serialised again
  } catch {
    return null;
  }
}

/** Where call events come from: the pipeline. */
export interface CallEvents {
  on(event: 'call', listener: (e: AuditEvent) => void): unknown;
  off(event: 'call', listener: (e: AuditEvent) => void): unknown;
}

/** Listens to the pipeline's call events, cancelled calls included, and records them (batched by the AuditLog). */
export function recordAudit(pipeline: CallEvents, audit: AuditLog): () => void {
  const onCall = (e: AuditEvent) => audit.record(e);
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
  // Columns added by later versions read as NULL from a database an older mcpx wrote (read-only here: not migrated).
  const cols = new Set((db.prepare('PRAGMA table_info(audit)').all() as { name: string }[]).map((c) => c.name));
  const later = (col: string, as: string) => (cols.has(col) ? `${col} AS ${as}` : `NULL AS ${as}`);
  const sql = `SELECT id, ts, pid, server, kind, name, args_hash AS argsHash, args_redacted AS argsRedacted,
      duration_ms AS durationMs, outcome, reason, error, result_bytes AS resultBytes, ${later('caller', 'caller')},
      ${later('cut_tokens', 'cutTokens')}, ${later('cut_kept_tokens', 'cutKeptTokens')}
    FROM audit ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY ts DESC, id DESC LIMIT ?`;
  return db.prepare(sql).all(...params, filter.limit ?? 100) as AuditRecord[];
}
