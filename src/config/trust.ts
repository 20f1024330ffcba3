import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { defaultStateDir } from './paths.js';
import type { WaitingForTrust } from './types.js';

/**
 * Which project configs the user trusts, the way `direnv allow` and `mise trust` do it. Claude Code
 * starts mcpx inside any repository the user opens, and a `./mcpx.json` there can start any command;
 * so a config found in the working directory is used only once `mcpx trust` has recorded its content
 * hash (sha256 of the bytes). Any edit makes it untrusted again. The record is a small JSON file in
 * the state dir (`trusted.json`, 0600 in a 0700 folder), not the cache database: `cache clear` or a
 * new database must never trust or untrust anything.
 */
export interface TrustRecord {
  sha256: string;
  trustedAt: string;
}

/** trusted: the bytes match the record; changed: a record exists for other bytes; unknown: no record. */
export type TrustState = 'trusted' | 'changed' | 'unknown';

export interface TrustedFile extends TrustRecord {
  file: string;
  /** matches: the file holds the trusted bytes; changed: edited since; missing: gone. */
  state: 'matches' | 'changed' | 'missing';
}

type Store = Record<string, TrustRecord>;

export function trustStoreFile(stateDir = defaultStateDir()): string {
  return join(stateDir, 'trusted.json');
}

export function contentHash(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** One key per file however it is reached (a symlinked folder, `./mcpx.json` or its absolute path). */
export function trustKey(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return resolve(file); // gone: untrust still finds it by the path it was trusted under
  }
}

export function trustState(file: string, bytes: Buffer, stateDir?: string): TrustState {
  const record = readStore(stateDir)[trustKey(file)];
  if (!record) return 'unknown';
  return record.sha256 === contentHash(bytes) ? 'trusted' : 'changed';
}

export interface Trusted extends TrustRecord {
  file: string;
  /** What the trusted bytes run, for the user to see (undefined: not JSON). */
  servers?: { server: string; runs: string }[];
}

/** Records the file's current bytes as trusted; returns the record and what those bytes run. */
export function trustFile(file: string, stateDir?: string): Trusted {
  const key = trustKey(file);
  const bytes = readFileSync(key);
  const record = { sha256: contentHash(bytes), trustedAt: new Date().toISOString() };
  writeStore({ ...readStore(stateDir), [key]: record }, stateDir);
  return { file: key, ...record, servers: whatItRuns(bytes) };
}

/** Removes the file's record; false when there was none. */
export function untrustFile(file: string, stateDir?: string): boolean {
  const store = readStore(stateDir);
  const key = trustKey(file);
  if (!(key in store)) return false;
  delete store[key];
  writeStore(store, stateDir);
  return true;
}

export function listTrusted(stateDir?: string): TrustedFile[] {
  return Object.entries(readStore(stateDir))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([file, r]) => {
      const state = !existsSync(file) ? 'missing' : contentHash(readFileSync(file)) === r.sha256 ? 'matches' : 'changed';
      return { file, ...r, state };
    });
}

/** The command a user runs to trust the file, exactly as printed in every message about it. */
export function trustCommand(file: string): string {
  return `mcpx trust ${/^[\w@%+=:,./-]+$/.test(file) ? file : `'${file.replace(/'/g, `'\\''`)}'`}`;
}

/**
 * What a config asks mcpx to run, as written (no variable expanded, no .env read): shown by
 * `mcpx trust` so the user sees the commands being approved. Undefined when the file is not JSON.
 */
function whatItRuns(bytes: Buffer): { server: string; runs: string }[] | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  const servers = (raw as { mcpServers?: unknown })?.mcpServers;
  if (typeof servers !== 'object' || servers === null) return [];
  return Object.entries(servers as Record<string, Record<string, unknown>>).map(([server, e]) => {
    const words = [e?.command, ...(Array.isArray(e?.args) ? e.args : [])].filter((w) => w !== undefined).map(String);
    const helper = typeof e?.headersHelper === 'string' ? ` (headersHelper: ${e.headersHelper})` : '';
    return { server, runs: words.length ? words.join(' ') : `${String(e?.url ?? '?')}${helper}` };
  });
}

/** A project config that is not used yet; `meanwhile` is the user config served instead, if any. */
export function waitingForTrust(file: string, state: 'unknown' | 'changed', meanwhile?: string): WaitingForTrust {
  const command = trustCommand(file);
  const why = state === 'changed' ? 'has changed since it was trusted' : 'is not trusted yet';
  const instead = meanwhile ? `serving ${meanwhile} meanwhile` : 'no servers are started';
  return {
    file, state, command,
    message: `${file} ${why}: nothing in it runs (${instead}). Read it, then run: ${command}`,
    suggestion: `read it first (it can start any command), then run: ${command}`,
  };
}

/** An unreadable or hand-broken store trusts nothing (the safe side); `mcpx trust` writes a good one. */
function readStore(stateDir?: string): Store {
  try {
    const parsed: unknown = JSON.parse(readFileSync(trustStoreFile(stateDir), 'utf8'));
    const files = (parsed as { files?: unknown }).files;
    if (typeof files !== 'object' || files === null) return {};
    const out: Store = {};
    for (const [file, r] of Object.entries(files as Record<string, Partial<TrustRecord>>)) {
      if (typeof r?.sha256 === 'string') out[file] = { sha256: r.sha256, trustedAt: String(r.trustedAt ?? '') };
    }
    return out;
  } catch {
    return {};
  }
}

/** Written whole to a temp file, then renamed: a reader never sees half a store. */
function writeStore(files: Store, stateDir?: string): void {
  const path = trustStoreFile(stateDir);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ version: 1, files }, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, path);
}
