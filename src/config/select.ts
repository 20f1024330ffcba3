import { McpxError } from '../errors.js';
import type { Config, Selection } from './types.js';

/**
 * `--tags docs,work` (servers carrying one of the tags) and `--only context7,standards` (exactly those):
 * one config backing different `.mcp.json` entries. Applied once, when the config is loaded, so that
 * serve, doctor, tools and call see the same subset. A name or tag that matches nothing is a typo:
 * usage error (exit 2) naming it.
 */
export function selectServers(config: Config, selection: Selection | undefined): Config {
  if (!selection || (!selection.tags && !selection.only)) return config;
  const names = config.servers.map((s) => s.name);
  let servers = config.servers;
  if (selection.only) {
    const unknown = selection.only.filter((n) => !names.includes(n));
    if (unknown.length) throw usage(`--only: no server ${unknown.map((n) => `"${n}"`).join(', ')} in ${config.file}`, config, `the servers are: ${names.join(', ') || '(none)'}`);
    servers = servers.filter((s) => selection.only!.includes(s.name));
  }
  if (selection.tags) {
    const known = new Set(config.servers.flatMap((s) => s.tags));
    const unknown = selection.tags.filter((t) => !known.has(t));
    if (unknown.length) throw usage(`--tags: no server in ${config.file} has the tag ${unknown.map((t) => `"${t}"`).join(', ')}`, config, `the tags are: ${[...known].join(', ') || '(none: add "tags": [...] to a server)'}`);
    servers = servers.filter((s) => s.tags.some((t) => selection.tags!.includes(t)));
  }
  return { ...config, servers, selection };
}

/** "a,b , c" → ["a", "b", "c"]; an empty list is a usage error naming the flag. */
export function parseNameList(flag: string, value: string): string[] {
  const items = value.split(',').map((x) => x.trim()).filter(Boolean);
  if (!items.length) throw new McpxError(`${flag}: give at least one name (comma-separated)`, { code: 'USAGE' });
  return items;
}

/** "no server NAME in FILE", listing the servers: a usage error (exit 2). */
export function unknownServer(config: Config, name: string): McpxError {
  return usage(`no server "${name}" in ${config.file}`, config, `the servers are: ${config.servers.map((s) => s.name).join(', ') || '(none)'}`);
}

function usage(message: string, config: Config, suggestion: string): McpxError {
  return new McpxError(message, { code: 'USAGE', file: config.file, suggestion });
}
