import type { Database, Statement } from 'better-sqlite3';
import { canonicalJson, sha256 } from '../util/canonical.js';
import { errorMessage } from '../errors.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import type { CacheDb } from './db.js';
import { withBusyRetry } from './sqlite-errors.js';

/**
 * Tool pins (pinTools): the definition of each tool the user approved, by server and tool name, so
 * that a child changing a tool's description or input schema after install (tool poisoning, a "rug
 * pull") is noticed. The first time a server's tools are seen they are approved as they are; after
 * that, a tool whose definition differs (or a new one) is recorded as waiting until `mcpx approve`.
 * Recording happens for every server; withholding is serve's decision (server/pins.ts), for servers
 * with `pinTools`.
 */
export interface ToolDefinition {
  description?: string;
  inputSchema?: unknown;
}

export interface PinRow {
  hash: string | null;
  definition: ToolDefinition | null;
  seenHash: string | null;
  seenDefinition: ToolDefinition | null;
  seenAt: number | null;
}

export interface WaitingTool {
  server: string;
  tool: string;
  change: 'changed' | 'new';
  /** The approved definition (absent for a new tool). */
  approved?: ToolDefinition;
  /** The definition waiting for approval. */
  seen: ToolDefinition;
  seenAt?: number;
}

/** What is pinned of a tool: its description and input schema, nothing else. */
export function definitionOf(tool: { description?: string; inputSchema?: unknown }): ToolDefinition {
  return { description: tool.description, inputSchema: tool.inputSchema };
}

/** sha256 of the canonical JSON: key order and absent fields never make a difference. */
export function definitionHash(d: ToolDefinition): string {
  return sha256(canonicalJson({ description: d.description ?? '', inputSchema: d.inputSchema ?? null }));
}

/** The tools listed now whose definition is not the approved one: changed, or new (never approved). */
export function compareWithPins(server: string, pins: ReadonlyMap<string, PinRow>, tools: readonly { name: string; description?: string; inputSchema?: unknown }[]): WaitingTool[] {
  const out: WaitingTool[] = [];
  for (const tool of tools) {
    const seen = definitionOf(tool);
    const row = pins.get(tool.name);
    if (row?.hash === definitionHash(seen)) continue;
    out.push({ server, tool: tool.name, change: row?.hash ? 'changed' : 'new', approved: row?.definition ?? undefined, seen });
  }
  return out;
}

/** The pins of these servers, read with any connection (doctor reads them read-only). */
export function readPins(db: Database, servers: readonly string[]): Map<string, Map<string, PinRow>> {
  const out = new Map<string, Map<string, PinRow>>(servers.map((s) => [s, new Map()]));
  if (!servers.length) return out;
  const rows = db
    .prepare(`SELECT server, tool, hash, definition, seen_hash, seen_definition, seen_at FROM tool_pins WHERE server IN (${servers.map(() => '?').join(',')})`)
    .all(...servers) as { server: string; tool: string; hash: string | null; definition: string | null; seen_hash: string | null; seen_definition: string | null; seen_at: number | null }[];
  for (const r of rows) {
    out.get(r.server)!.set(r.tool, {
      hash: r.hash,
      definition: r.definition === null ? null : (JSON.parse(r.definition) as ToolDefinition),
      seenHash: r.seen_hash,
      seenDefinition: r.seen_definition === null ? null : (JSON.parse(r.seen_definition) as ToolDefinition),
      seenAt: r.seen_at,
    });
  }
  return out;
}

/** What waits in the database: the latest differing definition recorded per tool (by any process). */
export function recordedWaiting(server: string, pins: ReadonlyMap<string, PinRow>): WaitingTool[] {
  return [...pins]
    .filter(([, r]) => r.seenHash !== null)
    .map(([tool, r]) => ({ server, tool, change: r.hash ? 'changed' : 'new', approved: r.definition ?? undefined, seen: r.seenDefinition ?? {}, seenAt: r.seenAt ?? undefined }));
}

export class PinStore {
  private readonly log: Logger;
  private readonly selectGeneration: Statement;

  constructor(private readonly cdb: CacheDb, opts: { log?: Logger } = {}) {
    this.log = opts.log ?? defaultLog;
    this.selectGeneration = cdb.db.prepare("SELECT value FROM meta WHERE name = 'pins'");
  }

  /**
   * Compares what a child lists now with its pins: the first time a server is seen its tools are
   * approved as they are; after that a differing definition is recorded (once per definition) and
   * returned as waiting. Never clears what waits: only approve() does (another process's child may
   * still list the definition recorded). A read-only database compares without recording.
   */
  observe(server: string, tools: readonly { name: string; description?: string; inputSchema?: unknown }[], now = Date.now()): WaitingTool[] {
    const db = this.cdb.db;
    const run = (): WaitingTool[] => {
      const pins = readPins(db, [server]).get(server)!;
      if (!pins.size) {
        if (this.cdb.writable) this.pinAll(server, tools, now);
        return [];
      }
      const waiting = compareWithPins(server, pins, tools);
      if (this.cdb.writable) {
        const record = db.prepare(`INSERT INTO tool_pins (server, tool, seen_hash, seen_definition, seen_at) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (server, tool) DO UPDATE SET seen_hash = excluded.seen_hash, seen_definition = excluded.seen_definition, seen_at = excluded.seen_at`);
        for (const w of waiting) {
          const hash = definitionHash(w.seen);
          if (pins.get(w.tool)?.seenHash !== hash) record.run(server, w.tool, hash, JSON.stringify(w.seen), now);
        }
      }
      return waiting;
    };
    try {
      // IMMEDIATE: two processes seeing a server for the first time at once pin it once.
      return this.cdb.writable ? withBusyRetry(() => db.transaction(run).immediate()) : run();
    } catch (e) {
      this.log.warn(`cache: could not check the tool pins of "${server}" (${errorMessage(e)})`);
      return [];
    }
  }

  private pinAll(server: string, tools: readonly { name: string; description?: string; inputSchema?: unknown }[], now: number): void {
    const insert = this.cdb.db.prepare('INSERT OR IGNORE INTO tool_pins (server, tool, hash, definition, approved_at) VALUES (?, ?, ?, ?, ?)');
    for (const t of tools) {
      const d = definitionOf(t);
      insert.run(server, t.name, definitionHash(d), JSON.stringify(d), now);
    }
  }

  /** What waits for these servers, as recorded. */
  waiting(servers: readonly string[]): WaitingTool[] {
    const pins = readPins(this.cdb.db, servers);
    return servers.flatMap((s) => recordedWaiting(s, pins.get(s)!));
  }

  /** Accepts what waits for the server (or one tool of it); returns what was approved. */
  approve(server: string, tool?: string, now = Date.now()): WaitingTool[] {
    const db = this.cdb.db;
    return withBusyRetry(() =>
      db.transaction(() => {
        const approved = this.waiting([server]).filter((w) => tool === undefined || w.tool === tool);
        const accept = db.prepare(`UPDATE tool_pins SET hash = seen_hash, definition = seen_definition, approved_at = ?,
          seen_hash = NULL, seen_definition = NULL, seen_at = NULL WHERE server = ? AND tool = ? AND seen_hash IS NOT NULL`);
        for (const w of approved) accept.run(now, server, w.tool);
        if (approved.length) db.prepare("UPDATE meta SET value = value + 1 WHERE name = 'pins'").run();
        return approved;
      }).immediate(),
    );
  }

  /** Bumped by every approval: a running serve compares it to notice approvals made elsewhere. */
  generation(): number {
    const row = this.selectGeneration.get() as { value: number } | undefined;
    return row?.value ?? 0;
  }
}
