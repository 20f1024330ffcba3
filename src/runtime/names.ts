import { sha256 } from '../util/canonical.js';

/**
 * Names as Claude Code will see them: `mcp__<entry>__<prefix>__<name>`, which must match
 * ^[A-Za-z0-9_-]{1,64}$. For the default entry name `mcpx`, our part may use 64 - 11 = 53 characters.
 */
export const CLAUDE_PREFIX = 'mcp__mcpx__';
export const MAX_NAME = 64 - CLAUDE_PREFIX.length;

/** `<prefix>__<name>`, kept to [A-Za-z0-9_-] and shortened deterministically (hash of the full name). */
export function exposedName(prefix: string, name: string): string {
  const full = prefix ? `${prefix}__${name}` : name;
  return fit(full.replace(/[^A-Za-z0-9_-]/g, '_'), full, MAX_NAME);
}

/** The name of the second (third…) child offering the same exposed name: a suffix from its server name. */
export function collisionName(name: string, server: string): string {
  const suffix = `_${sha256(server).slice(0, 4)}`;
  return fit(name, name, MAX_NAME - suffix.length) + suffix;
}

function fit(clean: string, full: string, max: number): string {
  if (clean.length <= max) return clean;
  return `${clean.slice(0, max - 9)}_${sha256(full).slice(0, 8)}`;
}
