import { join } from 'node:path';
import { isObject, readJsonObject, templatesDir, type JsonObject } from './files.js';

/**
 * The documentation servers mcpx exists for, recognised in an entry someone else wrote (a Claude Code
 * .mcp.json), so that `mcpx import` can give them the `cache` block of mcpx's own template: caching is
 * opt-in, and these are the servers whose answers stay true long enough to cache. Recognised by what
 * they run (package or URL), never by the name the user gave them.
 */
const KNOWN: { template: string; runs: RegExp }[] = [
  { template: 'context7', runs: /@upstash\/context7-mcp\b|^https:\/\/mcp\.context7\.com\// },
  { template: 'confluence', runs: /^mcp-atlassian\b|^https:\/\/mcp\.atlassian\.com\// },
  { template: 'notion', runs: /@notionhq\/notion-mcp-server\b|^https:\/\/mcp\.notion\.com\// },
];

/** The template a server entry runs (undefined: not one of the documentation servers). */
export function docServerOf(entry: JsonObject): string | undefined {
  const words = [entry.command, ...(Array.isArray(entry.args) ? entry.args : []), entry.url].filter((w): w is string => typeof w === 'string');
  const known = KNOWN.find((k) => words.some((w) => k.runs.test(w)));
  if (known) return known.template;
  return runsMcpx(entry, 'standards') ? 'standards' : undefined; // mcpx's own standards server
}

/** The entry runs `mcpx <command>` (or node …/mcpx.js <command>, npx mcpx@… <command>). */
export function runsMcpx(entry: JsonObject, command: string): boolean {
  if (typeof entry.command !== 'string') return false;
  const words = [entry.command, ...(Array.isArray(entry.args) ? entry.args : [])].map(String);
  return words.includes(command) && words.some((w) => /(^|[/\\])mcpx(\.js)?$/.test(w) || /^mcpx@/.test(w));
}

/** The `cache` block mcpx's template gives that server (the TTLs the README recommends). */
export function templateCache(template: string): JsonObject | undefined {
  const t = templateEntry(template);
  return t && isObject(t.cache) ? t.cache : undefined;
}

/**
 * The `errorPatterns` of mcpx's template for that server: the texts it answers with, without isError,
 * when its own upstream failed (Context7's "Error searching libraries: …"). Without them such a text is
 * an answer: cached, and shared by everyone where the scope is public.
 */
export function templateErrorPatterns(template: string): string[] | undefined {
  const p = templateEntry(template)?.errorPatterns;
  return Array.isArray(p) && p.length && p.every((x) => typeof x === 'string') ? p : undefined;
}

function templateEntry(template: string): JsonObject | undefined {
  const t = readJsonObject(join(templatesDir(), 'servers', `${template}.json`))?.[template];
  return isObject(t) ? t : undefined;
}
