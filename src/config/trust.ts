import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { McpxError } from '../errors.js';
import { readDotenv, readEnvFile } from './env.js';
import { defaultStateDir } from './paths.js';
import type { WaitingForTrust } from './types.js';

/**
 * Which project configs the user trusts, the way `direnv allow` and `mise trust` do it. Claude Code
 * starts mcpx inside any repository the user opens, and a `./mcpx.json` there can start any command;
 * so a config found in the working directory is used only once `mcpx trust` has recorded its content
 * hash (sha256 of the bytes), with the hash of the `.env` beside it (its values fill the config's
 * ${VAR}s, so they are part of what the user approves: a `.env` that appears, changes or goes is an
 * edit too). Any edit makes it untrusted again. The record is a small JSON file in
 * the state dir (`trusted.json`, 0600 in a 0700 folder), not the cache database: `cache clear` or a
 * new database must never trust or untrust anything.
 */
export interface TrustRecord {
  sha256: string;
  /** The `.env` beside the config when it was trusted: its path and hash (null: there was none). */
  env: { file: string; sha256: string | null };
  trustedAt: string;
}

/** What a project's trust covers: the bytes of its config, and of the `.env` beside it (undefined: none). */
export interface ProjectContent {
  config: Buffer;
  env: Buffer | undefined;
}

/** trusted: the bytes match the record; changed: a record exists for other bytes; unknown: no record. */
export type TrustState = 'trusted' | 'changed' | 'unknown';

export interface TrustVerdict {
  state: TrustState;
  /** With `changed`: the files whose bytes are not the trusted ones (the config, its `.env`, or both). */
  changed: string[];
}

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

/** The hash of a file that may be absent (null). */
function hashOf(bytes: Buffer | undefined): string | null {
  return bytes ? contentHash(bytes) : null;
}

/** One key per file however it is reached (a symlinked folder, `./mcpx.json` or its absolute path). */
export function trustKey(file: string): string {
  try {
    return realpathSync(file);
  } catch {
    return resolve(file); // gone: untrust still finds it by the path it was trusted under
  }
}

/** The `.env` a project config reads, however the folder is reached (a symlinked folder, a relative path). */
export function envKey(file: string): string {
  return join(trustKey(dirname(resolve(file))), '.env');
}

export function trustState(file: string, content: ProjectContent, stateDir?: string): TrustVerdict {
  const record = readStore(stateDir)[trustKey(file)];
  if (!record) return { state: 'unknown', changed: [] };
  const changed: string[] = [];
  if (record.sha256 !== contentHash(content.config)) changed.push(file);
  const env = envKey(file);
  if (record.env.file !== env || record.env.sha256 !== hashOf(content.env)) changed.push(env);
  return { state: changed.length ? 'changed' : 'trusted', changed };
}

export interface Trusted extends TrustRecord {
  file: string;
  /** What the trusted bytes run, for the user to see (undefined: not JSON). */
  servers?: { server: string; runs: string }[];
}

/** Records the file's current bytes, and its `.env`'s, as trusted; returns the record and what those bytes run. */
export function trustFile(file: string, stateDir?: string): Trusted {
  const key = trustKey(file);
  const bytes = readFileSync(key);
  const env = envKey(file);
  const record: TrustRecord = { sha256: contentHash(bytes), env: { file: env, sha256: hashOf(readEnvFile(file)) }, trustedAt: new Date().toISOString() };
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
      const same = () => contentHash(readFileSync(file)) === r.sha256 && hashOf(readDotenv(r.env.file)) === r.env.sha256;
      const state = !existsSync(file) ? 'missing' : same() ? 'matches' : 'changed';
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

type Untrusted = { state: 'unknown' | 'changed'; changed?: string[] };

/** A project config that is not used yet; `meanwhile` is the user config served instead, if any. */
export function waitingForTrust(file: string, verdict: Untrusted, meanwhile?: string): WaitingForTrust {
  const command = trustCommand(file);
  const instead = meanwhile ? `serving ${meanwhile} meanwhile` : 'no servers are started';
  const envToo = (verdict.changed ?? []).some((f) => f !== file);
  const what = envToo ? `nothing in either runs or is read (${instead}). Read both` : `nothing in it runs (${instead}). Read it`;
  return {
    file, state: verdict.state, command,
    ...(verdict.state === 'changed' && { changed: verdict.changed ?? [file] }),
    message: `${whyUntrusted(file, verdict)}: ${what}, then run: ${command}`,
    suggestion: `read it first (it can start any command${envToo ? `; its .env sets the values it uses` : ''}), then run: ${command}`,
  };
}

/** A project config, or its `.env`, that is not the trusted one (any more), as the error of a load. */
export function untrusted(file: string, verdict: Untrusted): McpxError {
  const why = verdict.state === 'unknown' ? `${file} is no longer trusted` : whyUntrusted(file, verdict);
  return new McpxError(`${why}; not using it`, { code: 'CONFIG_UNTRUSTED', file, suggestion: waitingForTrust(file, verdict).suggestion });
}

/** A trusted project config, or its `.env`, edited while serving: the edit is not applied until trusted. */
export function untrustedEdit(w: WaitingForTrust): McpxError {
  const next = `read it, then run: ${w.command}, then \`mcpx reload\``;
  return new McpxError(`${whyUntrusted(w.file, w)}: not applied until trusted again (${next})`, { code: 'CONFIG_UNTRUSTED', file: w.file, suggestion: next });
}

/** Which file is not the trusted one: `X is not trusted yet`, `X has changed since it was trusted`, … */
function whyUntrusted(file: string, verdict: Untrusted): string {
  if (verdict.state === 'unknown') return `${file} is not trusted yet`;
  const env = (verdict.changed ?? []).find((f) => f !== file);
  if (!env) return `${file} has changed since it was trusted`;
  const envNow = existsSync(env) ? `${env} has changed` : `${env} is gone`;
  return (verdict.changed ?? []).includes(file) ? `${file} and ${basename(env)} beside it have changed since they were trusted` : `${envNow} since ${file} was trusted`;
}

/** An unreadable or hand-broken store trusts nothing (the safe side); `mcpx trust` writes a good one. */
function readStore(stateDir?: string): Store {
  try {
    const parsed: unknown = JSON.parse(readFileSync(trustStoreFile(stateDir), 'utf8'));
    const files = (parsed as { files?: unknown }).files;
    if (typeof files !== 'object' || files === null) return {};
    const out: Store = {};
    for (const [file, r] of Object.entries(files as Record<string, Partial<TrustRecord>>)) {
      if (typeof r?.sha256 !== 'string') continue;
      // A record written before the .env was covered: trusted with no .env (one there now needs a new `mcpx trust`).
      const env = typeof r.env?.file === 'string' && (typeof r.env.sha256 === 'string' || r.env.sha256 === null) ? r.env : { file: envKey(file), sha256: null };
      out[file] = { sha256: r.sha256, env, trustedAt: String(r.trustedAt ?? '') };
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
