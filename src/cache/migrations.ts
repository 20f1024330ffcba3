import type { Database } from 'better-sqlite3';
import { McpxError } from '../errors.js';

/**
 * Schema versions, tracked in PRAGMA user_version. One function per step; each step runs in its own
 * IMMEDIATE transaction together with the version bump, so a crash leaves the previous version intact
 * and two processes starting at once cannot both run a step. Append new steps; never edit old ones.
 */
export type Migration = (db: Database) => void;

/** Version 1: results, child catalogs, per-server counters, serve status. (audit: version 2) */
function v1Initial(db: Database): void {
  db.exec(`
    CREATE TABLE entries (
      key         TEXT PRIMARY KEY,
      server      TEXT NOT NULL,
      tool        TEXT NOT NULL,
      result      TEXT NOT NULL,
      stored_at   INTEGER NOT NULL,
      expires_at  INTEGER NOT NULL,
      stale_until INTEGER NOT NULL,
      bytes       INTEGER NOT NULL,
      last_hit    INTEGER NOT NULL
    );
    CREATE INDEX entries_stale_until ON entries (stale_until);
    CREATE INDEX entries_server_tool ON entries (server, tool);
    CREATE INDEX entries_last_hit ON entries (last_hit);

    CREATE TABLE catalog (
      fingerprint TEXT PRIMARY KEY,
      server      TEXT NOT NULL,
      data        TEXT NOT NULL,
      fetched_at  INTEGER NOT NULL
    );

    -- One row per server and counter: hits, misses, ..., latency_le_<ms> buckets, latency_max_ms.
    CREATE TABLE stats (
      server TEXT NOT NULL,
      name   TEXT NOT NULL,
      value  INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY (server, name)
    ) WITHOUT ROWID;

    CREATE TABLE status (
      pid        INTEGER PRIMARY KEY,
      data       TEXT NOT NULL,
      updated_at INTEGER NOT NULL
    );

    -- generation: bumped by every invalidation, so other processes know to drop their in-memory L1.
    CREATE TABLE meta (
      name  TEXT PRIMARY KEY,
      value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO meta (name, value) VALUES ('generation', 0);
  `);
}

/**
 * Version 2: the audit trail, one row per tools/call, resources/read and prompts/get through serve.
 * args_hash (sha256 of the canonical JSON arguments) or args_redacted (the arguments with secrets
 * masked) per `audit.args`; error holds the redacted reason in words. Pruned by ts (retention).
 */
function v2Audit(db: Database): void {
  db.exec(`
    CREATE TABLE audit (
      id            INTEGER PRIMARY KEY,
      ts            INTEGER NOT NULL,  -- ms since the epoch, UTC
      pid           INTEGER NOT NULL,
      server        TEXT NOT NULL,
      kind          TEXT NOT NULL,     -- tool | resource | prompt
      name          TEXT NOT NULL,
      args_hash     TEXT,
      args_redacted TEXT,
      duration_ms   REAL NOT NULL,
      outcome       TEXT NOT NULL,     -- ok error timeout breaker-open quota stale hit fallback child-down queue-full
      reason        TEXT,
      error         TEXT,
      result_bytes  INTEGER
    );
    CREATE INDEX audit_ts ON audit (ts);
  `);
}

/**
 * Version 3: tool pins (pinTools). One row per server and tool name: the approved definition (sha256
 * of the canonical JSON of its description and inputSchema, and that JSON, to show a difference), and
 * the latest definition seen that differs from it, waiting for `mcpx approve`. A tool never approved
 * (new on a server already pinned) has no approved hash. meta 'pins' is bumped by every approval, so
 * that running serve processes notice it and list the tool again.
 */
function v3ToolPins(db: Database): void {
  db.exec(`
    CREATE TABLE tool_pins (
      server          TEXT NOT NULL,
      tool            TEXT NOT NULL,   -- the child's own tool name
      hash            TEXT,            -- approved definition; NULL: never approved (a new tool)
      definition      TEXT,            -- approved {description, inputSchema} as JSON
      approved_at     INTEGER,
      seen_hash       TEXT,            -- latest definition seen that differs from the approved one; NULL: none waits
      seen_definition TEXT,
      seen_at         INTEGER,
      PRIMARY KEY (server, tool)
    ) WITHOUT ROWID;
    INSERT INTO meta (name, value) VALUES ('pins', 0);
  `);
}

/**
 * Version 4: who called, in the audit trail: the name of the bearer token an HTTP caller of
 * `serve --http` presented (never the token); NULL for stdio, where the caller is the local user.
 */
function v4AuditCaller(db: Database): void {
  db.exec('ALTER TABLE audit ADD COLUMN caller TEXT');
}

/**
 * Version 5: the output budget in the audit trail: the answer's size and what the client got first,
 * in tokens (4 characters each), when the answer was cut; NULL otherwise.
 */
function v5AuditCut(db: Database): void {
  db.exec('ALTER TABLE audit ADD COLUMN cut_tokens INTEGER');
  db.exec('ALTER TABLE audit ADD COLUMN cut_kept_tokens INTEGER');
}

export const MIGRATIONS: readonly Migration[] = [v1Initial, v2Audit, v3ToolPins, v4AuditCaller, v5AuditCut];
export const SCHEMA_VERSION = MIGRATIONS.length;

export function userVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Brings the database to the newest version; refuses one written by a newer mcpx. */
export function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS, file = db.name): number {
  const target = migrations.length;
  refuseNewer(userVersion(db), target, file);
  for (let v = userVersion(db); v < target; v++) {
    db.transaction(() => {
      if (userVersion(db) !== v) return; // another process ran this step first
      migrations[v]!(db);
      db.pragma(`user_version = ${v + 1}`);
    }).immediate();
  }
  const now = userVersion(db);
  refuseNewer(now, target, file);
  return now;
}

function refuseNewer(version: number, target: number, file: string): void {
  if (version <= target) return;
  throw new McpxError(`cache database ${file} has schema version ${version}, newer than this mcpx understands (${target})`, {
    code: 'CACHE',
    file,
    suggestion: 'upgrade mcpx, or point cache.dir / $MCPX_CACHE_DIR at another directory',
    context: { version, supported: target },
  });
}
