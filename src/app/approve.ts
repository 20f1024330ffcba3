import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DB_FILE, openDatabase, type CacheDb } from '../cache/db.js';
import { PinStore, type WaitingTool } from '../cache/pins.js';
import { loadConfig } from '../config/index.js';
import { unknownServer } from '../config/select.js';
import type { Config } from '../config/types.js';
import { McpxError, checkFailed } from '../errors.js';
import { jsonDifferences } from '../util/jsondiff.js';

/**
 * `mcpx approve`, headless: what waits for approval (pinTools) with the difference from the approved
 * definition, and accepting it. Approvals are recorded in the cache database; a running serve notices
 * them within a second and lists the tools again.
 */
export interface ChangeView {
  server: string;
  tool: string;
  change: 'changed' | 'new';
  /** When the waiting definition was first recorded (ISO). */
  seenAt?: string;
  description: { changed: boolean; before?: string; after?: string };
  inputSchema: { changed: boolean; differences: string[] };
}

export interface WaitingList {
  config: string;
  waiting: ChangeView[];
}

export interface ApproveResult {
  config: string;
  server: string;
  approved: ChangeView[];
}

/** The old and new description, and where the schema differs. */
export function changeView(w: WaitingTool): ChangeView {
  const before = w.approved?.description;
  const after = w.seen.description;
  const differences = w.change === 'new' ? [] : jsonDifferences(w.approved?.inputSchema, w.seen.inputSchema);
  return {
    server: w.server,
    tool: w.tool,
    change: w.change,
    seenAt: w.seenAt === undefined ? undefined : new Date(w.seenAt).toISOString(),
    description: { changed: w.change === 'new' || before !== after, before, after },
    inputSchema: { changed: w.change === 'new' || differences.length > 0, differences },
  };
}

/** Everything waiting for the config's servers (or one of them). */
export function listWaiting(opts: { config?: string; server?: string } = {}): WaitingList {
  const config = loadConfig(opts.config).config;
  const servers = opts.server === undefined ? config.servers.map((s) => s.name) : [known(config, opts.server)];
  if (!existsSync(join(config.cache.dir, DB_FILE))) return { config: config.file, waiting: [] }; // nothing seen yet
  return withPins(config, (pins) => ({ config: config.file, waiting: pins.waiting(servers).map(changeView) }));
}

/** Accepts what waits for SERVER (or its TOOL). Nothing waiting is a failed check (exit 1) saying so. */
export function approveTools(opts: { config?: string; server: string; tool?: string }): ApproveResult {
  const config = loadConfig(opts.config).config;
  const server = known(config, opts.server);
  const approved = withPins(config, (pins, cdb) => {
    if (!cdb.writable) {
      throw new McpxError(`cannot record the approval: the cache database ${cdb.path} is not writable`, {
        code: 'CACHE', suggestion: 'check the owner and permissions of the cache directory (cache.dir / $MCPX_CACHE_DIR)',
      });
    }
    return pins.approve(server, opts.tool);
  });
  if (!approved.length) {
    throw Object.assign(checkFailed(`nothing waits for approval: ${server}${opts.tool ? ` ${opts.tool}` : ''}`), {
      suggestion: '`mcpx approve --list` shows what waits',
    });
  }
  return { config: config.file, server, approved: approved.map(changeView) };
}

function withPins<T>(config: Config, fn: (pins: PinStore, cdb: CacheDb) => T): T {
  const cdb = openDatabase(config.cache.dir);
  try {
    return fn(new PinStore(cdb), cdb);
  } finally {
    cdb.close();
  }
}

function known(config: Config, name: string): string {
  if (config.servers.some((s) => s.name === name)) return name;
  throw unknownServer(config, name);
}
