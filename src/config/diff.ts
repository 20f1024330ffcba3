import { canonicalJson } from '../util/canonical.js';
import type { Config, ServerConfig } from './types.js';

/**
 * What changed between two loaded configs, server by server (live reload applies it, runtime/apply.ts):
 * - `restart`: what the child is or is given changed (command, args, env, cwd, type, url, headers,
 *   headersHelper, maxMessageBytes, or a missing variable appeared or went away): it has to be started again;
 * - `update`: only mcpx's own settings changed (timeouts, cache, breaker, filters, prefix, disabled …):
 *   applied in place, the process and its connection stay;
 * - `global`: top-level settings read once at start (cache, audit, toolSearch): they apply at the next start of mcpx.
 * Every other field, including ones added later, counts as an in-place setting unless listed here.
 */
export interface ServerChange {
  name: string;
  fields: string[];
}

export interface ConfigDiff {
  added: ServerConfig[];
  removed: string[];
  restart: ServerChange[];
  update: ServerChange[];
  unchanged: string[];
  global: string[];
}

/** maxMessageBytes too: the connection's framing is built with it. */
const RESTART_FIELDS = new Set(['transport', 'command', 'args', 'env', 'cwd', 'url', 'headers', 'headersHelper', 'maxMessageBytes', 'protocol', 'problem']);
/** Computed from the fields above (or only informative): compared through them. */
const DERIVED_FIELDS = new Set(['name', 'identity', 'catalogKey', 'credentialFingerprint', 'variables']);
const GLOBAL_FIELDS = ['cache', 'audit', 'toolSearch'] as const;

export function diffConfigs(before: Pick<Config, 'servers' | 'cache' | 'audit'> & Partial<Pick<Config, 'toolSearch'>>, after: Pick<Config, 'servers' | 'cache' | 'audit'> & Partial<Pick<Config, 'toolSearch'>>): ConfigDiff {
  const old = new Map(before.servers.map((s) => [s.name, s]));
  const diff: ConfigDiff = { added: [], removed: [], restart: [], update: [], unchanged: [], global: [] };
  for (const s of after.servers) {
    const prev = old.get(s.name);
    if (!prev) {
      diff.added.push(s);
      continue;
    }
    const fields = changedFields(prev, s);
    if (!fields.length) diff.unchanged.push(s.name);
    else if (fields.some((f) => RESTART_FIELDS.has(f))) diff.restart.push({ name: s.name, fields });
    else diff.update.push({ name: s.name, fields });
  }
  const kept = new Set(after.servers.map((s) => s.name));
  diff.removed = before.servers.filter((s) => !kept.has(s.name)).map((s) => s.name);
  diff.global = GLOBAL_FIELDS.filter((k) => comparable(before[k]) !== comparable(after[k]));
  return diff;
}

/** True when the diff asks for nothing. */
export function isEmptyDiff(d: ConfigDiff): boolean {
  return !d.added.length && !d.removed.length && !d.restart.length && !d.update.length && !d.global.length;
}

function changedFields(a: ServerConfig, b: ServerConfig): string[] {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const ra = a as unknown as Record<string, unknown>;
  const rb = b as unknown as Record<string, unknown>;
  return [...keys].filter((k) => !DERIVED_FIELDS.has(k) && comparable(ra[k]) !== comparable(rb[k])).sort();
}

/** Canonical JSON that sees what JSON.stringify loses: a RegExp's source, an error's message. */
function comparable(v: unknown): string {
  return canonicalJson(plain(v));
}

function plain(v: unknown): unknown {
  if (v instanceof RegExp) return `/${v.source}/${v.flags}`;
  if (v instanceof Error) return v.message;
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}
