import { copyFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { McpxError, isMcpxError } from '../errors.js';
import { normalizeConfig } from '../config/normalize.js';
import { docServerOf, runsMcpx, templateCache, templateErrorPatterns } from './doc-servers.js';
import { MCPX_ENTRY, fileMode, freeBackupName, isObject, jsonText, readJsonObject, writeFileAtomic, type JsonObject } from './files.js';

/**
 * `mcpx import`, headless: moves the servers of a Claude Code .mcp.json into mcpx.json and leaves
 * .mcp.json with the single mcpx entry (plus whatever mcpx cannot run), after a backup.
 *
 * A server name already in mcpx.json with a different entry is a conflict: the import refuses
 * (exit 2, nothing written) rather than renaming, because a rename silently changes the tool names
 * the model sees (`<prefix>__<tool>`). An identical entry is simply not added twice.
 */
export interface ImportOptions {
  /** The .mcp.json to read. */
  path: string;
  /** mcpx.json to write; default: beside the .mcp.json. */
  config?: string;
  dryRun?: boolean;
}

export interface ImportResult {
  source: string;
  target: string;
  dryRun: boolean;
  /** Moved into mcpx.json. */
  moved: { name: string; transport: string }[];
  /** Already in mcpx.json with the same entry: removed from .mcp.json, not added twice. */
  alreadyPresent: string[];
  /** Documentation servers moved without a `cache` block: given their template's (caching is opt-in). */
  caching: { name: string; template: string; cache: JsonObject }[];
  /** Documentation servers moved without `errorPatterns`: given their template's, so that an upstream failure told as text is never cached. */
  errorPatterns: { name: string; template: string; errorPatterns: string[] }[];
  /** Left in .mcp.json, with why. */
  left: { name: string; reason: string }[];
  /** Written (or, with dryRun, to be written). */
  files: { file: string; action: 'created' | 'updated' | 'backup' }[];
  /** Names only, never values. */
  warnings: string[];
  /** Public documentation (Context7, the standards server): its cached answers are shared by everyone (`cache.scope: "public"`). */
  publicScope: string[];
}

const TRANSPORTS = ['stdio', 'http', 'sse'];

export function importMcpJson(opts: ImportOptions): ImportResult {
  const source = resolve(opts.path);
  const target = opts.config ? resolve(opts.config) : join(dirname(source), 'mcpx.json');
  const doc = readJsonObject(source);
  if (!doc) {
    throw new McpxError(`${source} does not exist`, {
      code: 'CONFIG_NOT_FOUND', file: source, suggestion: 'pass the path of a Claude Code .mcp.json: mcpx import PATH',
    });
  }
  const servers = serversOf(doc, source);
  const existing = readJsonObject(target);
  const existingServers = existing ? serversOf(existing, target) : {};

  const r: ImportResult = { source, target, dryRun: opts.dryRun === true, moved: [], alreadyPresent: [], caching: [], errorPatterns: [], left: [], files: [], warnings: [], publicScope: [] };
  const keep: JsonObject = {};
  const add: JsonObject = {};
  const conflicts: string[] = [];
  for (const [name, entry] of Object.entries(servers)) {
    if (isMcpxItself(name, entry)) { keep[name] = entry; continue; }
    const why = cannotMove(name, entry, target);
    if (why) {
      keep[name] = entry;
      r.left.push({ name, reason: why });
      continue;
    }
    const rebased = standardsFolder(rebaseCwd(entry as JsonObject, dirname(source), dirname(target)), dirname(source), dirname(target));
    const scoped = publicScope(rebased);
    if (scoped !== rebased) r.publicScope.push(name);
    // Caching is opt-in: a documentation server without a cache block gets its template's.
    const template = rebased.cache === undefined ? docServerOf(rebased) : undefined;
    const cache = template && templateCache(template);
    const cached = cache ? { ...scoped, cache: { ...cache, ...(scoped.cache as JsonObject | undefined) } } : scoped;
    const doc = cached.errorPatterns === undefined ? docServerOf(cached) : undefined;
    const errorPatterns = doc && templateErrorPatterns(doc);
    const moved = errorPatterns ? { ...cached, errorPatterns } : cached;
    if (name in existingServers) {
      const present = JSON.stringify(existingServers[name]);
      // As this import writes it, as it was, or as an import that did not add errorPatterns yet wrote it.
      if ([moved, rebased, cached].some((e) => present === JSON.stringify(e))) r.alreadyPresent.push(name);
      else conflicts.push(name);
      continue;
    }
    add[name] = moved;
    r.moved.push({ name, transport: transportOf(moved) });
    if (cache) r.caching.push({ name, template: template!, cache });
    if (errorPatterns) r.errorPatterns.push({ name, template: doc!, errorPatterns });
    r.warnings.push(...literalSecrets(name, moved));
  }
  if (conflicts.length) {
    throw new McpxError(`${target} already has different servers named ${conflicts.map((n) => `"${n}"`).join(', ')}; not overwriting them`, {
      code: 'USAGE',
      file: target,
      suggestion: `rename the server in ${basename(source)} or in ${basename(target)} (or delete the copy you do not want), then run mcpx import again`,
    });
  }

  // mcpx first, then what stays behind; other top-level keys of both files are kept.
  const mcpxKept = Object.keys(keep).some((n) => isMcpxItself(n, keep[n]));
  const nextDoc = { ...doc, mcpServers: { ...(mcpxKept ? {} : { mcpx: MCPX_ENTRY }), ...keep } };
  const nextConfig = { ...(existing ?? {}), mcpServers: { ...existingServers, ...add } };
  // The result must load: check it as serve would, before anything is written.
  normalizeConfig({ raw: nextConfig, file: target, foundBy: 'flag', vars: {}, envFiles: [] });

  const sourceChanges = JSON.stringify(nextDoc) !== JSON.stringify(doc);
  if (r.moved.length) r.files.push({ file: target, action: existing ? 'updated' : 'created' });
  const backup = freeBackupName(source);
  if (sourceChanges) r.files.push({ file: backup, action: 'backup' }, { file: source, action: 'updated' });
  if (r.dryRun) return r;

  // Order matters: mcpx.json first, so a failure later leaves the servers reachable somewhere,
  // and a re-run finds them "already present". A new mcpx.json gets the mode of the .mcp.json whose
  // entries (tokens included) it now holds; both files keep theirs, and symlinks, when rewritten.
  if (r.moved.length) writeFileAtomic(target, jsonText(nextConfig), { newMode: fileMode(source) });
  if (sourceChanges) {
    copyFileSync(source, backup);
    writeFileAtomic(source, jsonText(nextDoc));
  }
  return r;
}

function serversOf(doc: JsonObject, file: string): JsonObject {
  const s = doc.mcpServers ?? {};
  if (!isObject(s)) throw new McpxError(`${file}: "mcpServers" must be an object`, { code: 'CONFIG_INVALID', file, field: 'mcpServers' });
  return s;
}

/** mcpx's own entry (by name, or an entry that runs `mcpx serve`) stays in .mcp.json. */
function isMcpxItself(name: string, entry: unknown): boolean {
  if (name === 'mcpx') return true;
  return isObject(entry) && runsMcpx(entry, 'serve');
}


/**
 * Public documentation, whose answers do not depend on who asks: Context7 (the npm package or its
 * remote) and mcpx's standards server. Its entries get `cache.scope: "public"` (unless the entry sets a
 * scope), so that a team whose members each have their own key shares their answers.
 */
function publicScope(entry: JsonObject): JsonObject {
  const doc = docServerOf(entry);
  const cache = isObject(entry.cache) ? entry.cache : {};
  if ((doc !== 'context7' && doc !== 'standards') || cache.scope !== undefined) return entry;
  return { ...entry, cache: { ...cache, scope: 'public' } };
}

/** Why an entry cannot run under mcpx (undefined: it can). */
function cannotMove(name: string, entry: unknown, target: string): string | undefined {
  if (!isObject(entry)) return 'not a JSON object';
  const type = entry.type ?? (entry.url !== undefined && entry.command === undefined ? 'http' : 'stdio');
  if (typeof type !== 'string' || !TRANSPORTS.includes(type)) {
    return `type ${JSON.stringify(entry.type)} is not one mcpx can run (${TRANSPORTS.join(', ')})`;
  }
  try {
    normalizeConfig({ raw: { mcpServers: { [name]: entry } }, file: target, foundBy: 'flag', vars: {}, envFiles: [] });
    return undefined;
  } catch (e) {
    if (!isMcpxError(e)) throw e;
    return e.message.replace(`${target}: `, '');
  }
}

function transportOf(e: JsonObject): string {
  return typeof e.type === 'string' ? e.type : e.url !== undefined && e.command === undefined ? 'http' : 'stdio';
}

/**
 * mcpx resolves a relative `cwd` against the config's directory; Claude Code used the project
 * directory (where .mcp.json is). When the two differ, rewrite it so it names the same place.
 * `args` are left alone: mcpx cannot know which of them are paths.
 */
function rebaseCwd(entry: JsonObject, from: string, to: string): JsonObject {
  if (typeof entry.cwd !== 'string' || isAbsolute(entry.cwd) || entry.cwd.startsWith('~') || entry.cwd.includes('${') || from === to) return entry;
  return { ...entry, cwd: relative(to, resolve(from, entry.cwd)) || '.' };
}

/**
 * The standards server without a cwd ran in the folder Claude Code was started in (that of the
 * .mcp.json), where its relative `--dir` is. Its answers are that folder's and mcpx caches them for
 * everyone, so it gets that folder as its cwd, as the template has it: a cwd is part of the cache key,
 * the folder mcpx happens to run in is not, and two projects would share one entry.
 */
function standardsFolder(entry: JsonObject, from: string, to: string): JsonObject {
  if (entry.cwd !== undefined || docServerOf(entry) !== 'standards') return entry;
  return { ...entry, cwd: relative(to, from) || '.' };
}

/** A literal (non-${VAR}) value in env or headers is likely a secret now committed to a file. */
function literalSecrets(name: string, e: JsonObject): string[] {
  const out: string[] = [];
  for (const field of ['env', 'headers'] as const) {
    const m = e[field];
    if (!isObject(m)) continue;
    for (const [k, v] of Object.entries(m)) {
      if (typeof v === 'string' && v !== '' && !v.includes('${') && /key|token|secret|password|auth/i.test(k)) {
        out.push(`server "${name}": ${field}.${k} holds a literal value; consider "\${${k.replace(/[^A-Za-z0-9_]/g, '_').toUpperCase()}}" and a .env file`);
      }
    }
  }
  return out;
}

