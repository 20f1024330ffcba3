import { childInstructions } from '../children/instructions.js';
import type { Config, ServerConfig } from '../config/types.js';
import { errorMessage } from '../errors.js';
import { log } from '../util/log.js';

/**
 * mcpx's `instructions` in its initialize answer. Claude Code uses a server's instructions to decide
 * when to look for its tools (with tool search on, that is how deferred tools are found), so mcpx says
 * what each child is for: one line about mcpx, then per child its name, tool prefix and instructions.
 * Claude Code keeps only the first 2,048 characters, so the longest texts are shortened fairly (one
 * common cap for all, "water-filling"), each marked; mcpx://status has them in full.
 */
export const MAX_INSTRUCTIONS = 2048;
export const SHORTENED = '…[shortened; full text in mcpx://status]';

export interface InstructionPart {
  name: string;
  prefix: string;
  /** The child's instructions (or the config's replacement); absent when none are known. */
  text?: string;
}

/** The servers worth describing: those that can serve tools (not disabled, not misconfigured). */
export function describedServers(config: Config): ServerConfig[] {
  return config.servers.filter((s) => !s.disabled && !s.problem);
}

export function mergeInstructions(parts: readonly InstructionPart[], limit = MAX_INSTRUCTIONS): string {
  const header = `mcpx serves the tools of ${parts.length} MCP server${parts.length === 1 ? '' : 's'}; a tool named <prefix>__<tool> belongs to the server with that prefix.`;
  const headings = parts.map((p) => `\n\n${p.name} (${p.prefix ? `tools ${p.prefix}__*` : 'tools unprefixed'})${p.text ? ':\n' : ''}`);
  const texts = parts.map((p) => p.text ?? '');
  const budget = limit - header.length - headings.reduce((n, h) => n + h.length, 0);
  const cap = fairCap(texts.map((t) => t.length), budget, SHORTENED.length);
  if (cap === undefined) {
    // Too many servers for their texts: the names (as many as fit), then the marker.
    const names = header + headings.map((h) => h.replace(/:\n$/, '')).join('');
    return names.length + 1 + SHORTENED.length <= limit ? `${names}\n${SHORTENED}` : cut(names, limit - SHORTENED.length) + SHORTENED;
  }
  return header + parts.map((_, i) => headings[i] + shorten(texts[i]!, cap)).join('');
}

/** The text itself when it fits under the cap (or shortening would not save anything), else cut and marked. */
function shorten(text: string, cap: number): string {
  return text.length <= cap + SHORTENED.length ? text : cut(text, cap).trimEnd() + SHORTENED;
}

/**
 * The largest common cap c such that the texts, each kept whole or cut to c characters plus the marker,
 * fit in `budget`; Infinity when all fit whole; undefined when not even the markers fit. The cost of a
 * text under cap c is min(length, c + marker), which grows with c, so a binary search finds it.
 */
export function fairCap(lengths: readonly number[], budget: number, marker: number): number | undefined {
  const cost = (c: number) => lengths.reduce((n, l) => n + Math.min(l, c + marker), 0);
  const longest = Math.max(0, ...lengths);
  if (cost(longest) <= budget) return Infinity;
  if (cost(0) > budget) return undefined;
  let lo = 0; // fits
  let hi = longest; // does not fit
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (cost(mid) <= budget) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** The first n characters, never splitting a surrogate pair. */
function cut(text: string, n: number): string {
  const end = Math.max(0, n);
  const code = text.charCodeAt(end - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? end - 1 : end);
}

/**
 * The merged text for serve's initialize: each child's instructions as stored with its catalog (read
 * before the answer, so nothing waits for a child), replaced by the config's where it sets them.
 */
export async function initialInstructions(config: Config): Promise<string> {
  const servers = describedServers(config);
  const need = servers.filter((s) => s.instructions === undefined).map((s) => s.catalogKey);
  let stored = new Map<string, string>();
  if (need.length) {
    try {
      const { readStoredInstructions } = await import('../cache/catalog.js');
      stored = readStoredInstructions(config.cache.dir, need);
    } catch (e) {
      log.debug(`instructions: stored texts not read (${errorMessage(e)})`);
    }
  }
  return mergeInstructions(servers.map((s) => ({ name: s.name, prefix: s.prefix, text: childInstructions(s, stored.get(s.catalogKey)).text })));
}
