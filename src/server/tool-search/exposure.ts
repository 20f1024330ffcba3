import picomatch from 'picomatch';
import type { Config, ToolSearchConfig } from '../../config/types.js';
import { SEARCH_TOOLS } from '../own-tools.js';

/**
 * Which tools a client is offered. With search off: every child tool and mcpx's own, as before. With
 * search on: the meta tools, the child tools matched by `toolSearchAlways` and those mcpx__find_tools
 * returned to this client lately (routing order), then mcpx's own. A pure function of its inputs, so
 * the first list answered before the runtime loads (stored-list.ts) is byte for byte the runtime's.
 */

export type ToolSearchMode = ToolSearchConfig['mode'];

/** The config with `serve --tool-search` applied (the flag wins over the file). */
export function withToolSearch(config: Config, mode: ToolSearchMode | undefined): Config {
  if (mode) config.toolSearch = { ...config.toolSearch, mode };
  return config;
}

/** Claude Code defers MCP tools and finds them with its own tool search: it gets the whole list in auto. */
export function isClaudeCode(client: string | undefined): boolean {
  return client !== undefined && /^claude-code\b/i.test(client);
}

/** Search on for this client (`client`: its clientInfo.name), given how many child tools the merged list has. */
export function searchOn(cfg: ToolSearchConfig, childTools: number, client: string | undefined): boolean {
  if (cfg.mode !== 'auto') return cfg.mode === 'on';
  return childTools > cfg.budget && !isClaudeCode(client);
}

export function alwaysMatcher(cfg: ToolSearchConfig): (name: string) => boolean {
  return cfg.always.length ? picomatch(cfg.always) : () => false;
}

export function searchListing<T extends { name: string }>(childTools: readonly T[], ownTools: readonly T[], always: (name: string) => boolean, found?: ReadonlySet<string>): T[] {
  const shown = childTools.filter((t) => always(t.name) || found?.has(t.name));
  return [...(SEARCH_TOOLS as readonly unknown[] as T[]), ...shown, ...ownTools];
}

/**
 * The tools mcpx__find_tools returned to one client, most recently found last; past `cap` the least
 * recently found go first (a client that searches a lot must not grow its list back to everything).
 */
export class FoundTools {
  private readonly names = new Map<string, true>();

  constructor(private readonly cap: number) {}

  get set(): ReadonlySet<string> {
    return new Set(this.names.keys());
  }

  /** Returns true when the set of names changed (not only their order). */
  add(names: readonly string[]): boolean {
    let changed = false;
    for (const n of names) {
      if (!this.names.delete(n)) changed = true;
      this.names.set(n, true);
    }
    for (const n of this.names.keys()) {
      if (this.names.size <= this.cap) break;
      this.names.delete(n);
      changed = true;
    }
    return changed;
  }
}
