import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { McpxError } from '../errors.js';
import { normalizeConfig } from '../config/normalize.js';
import { trustFile } from '../config/trust.js';
import { MCPX_ENTRY, isObject, jsonText, readJsonObject, templatesDir, writeFileAtomic, type JsonObject } from './files.js';

/**
 * `mcpx init`, headless: writes mcpx.json from the chosen server templates, .env.example with
 * their variables, `.env` into .gitignore, and (with register) the mcpx entry into .mcp.json.
 * Everything is checked before the first write, so a refusal leaves the directory untouched.
 */
export const DEFAULT_SERVERS = ['context7', 'confluence', 'notion', 'standards'];

export interface InitOptions {
  dir: string;
  /** Template names; default DEFAULT_SERVERS. */
  with?: string[];
  force?: boolean;
  register?: boolean;
}

export type FileAction = 'created' | 'overwritten' | 'updated' | 'unchanged';

export interface InitResult {
  dir: string;
  servers: string[];
  /** Names only: values are never read here. */
  variables: string[];
  files: { file: string; action: FileAction }[];
  /** mcpx.json is trusted as written (false: a .env was already beside it; `mcpx trust` after reading both). */
  trusted: boolean;
  mcpJson: {
    file: string;
    registered: boolean;
    snippet: { mcpServers: { mcpx: typeof MCPX_ENTRY } };
    /** Other servers already in .mcp.json: candidates for `mcpx import`. */
    otherServers: string[];
  };
}

export function availableTemplates(): string[] {
  return readdirSync(join(templatesDir(), 'servers'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

export function init(opts: InitOptions): InitResult {
  const dir = resolve(opts.dir);
  const servers = chooseServers(opts.with);
  const mcpServers: JsonObject = {};
  for (const name of servers) Object.assign(mcpServers, readTemplate(name));
  const config = { mcpServers };
  const configFile = join(dir, 'mcpx.json');
  // The templates ship with the package; a broken one is our bug, caught here rather than at serve.
  normalizeConfig({ raw: config, file: configFile, foundBy: 'flag', vars: {}, envFiles: [] });

  const envFile = join(dir, '.env.example');
  const mcpJsonFile = join(dir, '.mcp.json');
  const mcpJson = opts.register ? planRegister(mcpJsonFile, opts.force === true) : undefined;
  for (const file of [configFile, envFile]) {
    if (existsSync(file) && !opts.force) {
      throw new McpxError(`${file} already exists; not overwriting it`, {
        code: 'USAGE',
        file,
        suggestion: 'pass --force to overwrite it (or edit it by hand)',
      });
    }
  }

  mkdirSync(dir, { recursive: true });
  const files: InitResult['files'] = [];
  const write = (file: string, text: string): void => {
    const action: FileAction = existsSync(file) ? 'overwritten' : 'created';
    writeFileAtomic(file, text);
    files.push({ file, action });
  };
  write(configFile, jsonText(config));
  // mcpx wrote it from its own templates, at the user's request: trusted as written (an edit needs `mcpx trust`).
  // The trust covers the .env beside it too, so a .env already there (not mcpx's to vouch for) waits for the
  // user's own `mcpx trust`, as does the one they write later.
  const trusted = !existsSync(join(dir, '.env'));
  if (trusted) trustFile(configFile);
  write(envFile, envExample(servers));
  files.push({ file: join(dir, '.gitignore'), action: ignoreDotEnv(join(dir, '.gitignore')) });
  if (mcpJson?.text !== undefined) {
    writeFileAtomic(mcpJsonFile, mcpJson.text);
    files.push({ file: mcpJsonFile, action: mcpJson.action });
  } else if (mcpJson) files.push({ file: mcpJsonFile, action: 'unchanged' });

  return {
    dir,
    servers,
    variables: variableNames(JSON.stringify(mcpServers)),
    files,
    trusted,
    mcpJson: {
      file: mcpJsonFile,
      registered: opts.register === true,
      snippet: { mcpServers: { mcpx: MCPX_ENTRY } },
      otherServers: mcpJson?.otherServers ?? otherServersIn(mcpJsonFile),
    },
  };
}

function chooseServers(requested: string[] | undefined): string[] {
  const valid = availableTemplates();
  const names = [...new Set(requested ?? DEFAULT_SERVERS)];
  if (names.length === 0) throw new McpxError('--with needs at least one server name', { code: 'USAGE', suggestion: `valid: ${valid.join(', ')}` });
  for (const n of names) {
    if (!valid.includes(n)) {
      throw new McpxError(`unknown server "${n}" in --with (valid: ${valid.join(', ')})`, {
        code: 'USAGE',
        suggestion: `for example --with ${DEFAULT_SERVERS.slice(0, 2).join(',')}`,
      });
    }
  }
  return names;
}

function readTemplate(name: string): JsonObject {
  const file = join(templatesDir(), 'servers', `${name}.json`);
  const t = readJsonObject(file);
  if (!t || !isObject(t[name])) throw new McpxError(`template ${file} must hold { "${name}": {…} }`, { code: 'INTERNAL', file });
  return t;
}

function variableNames(text: string): string[] {
  return [...new Set([...text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!))].sort();
}

/**
 * templates/env.example is blocks headed `# --- name, name ---`; keep the preamble and the blocks
 * of the chosen servers, so a Notion-only project is not asked for Confluence credentials.
 */
export function envExample(servers: string[]): string {
  const text = readFileSync(join(templatesDir(), 'env.example'), 'utf8');
  const out: string[] = [];
  let keep = true;
  for (const line of text.split('\n')) {
    const head = /^# --- (.+) ---\s*$/.exec(line);
    if (head) keep = head[1]!.split(',').some((n) => servers.includes(n.trim()));
    if (keep) out.push(line);
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n').replace(/\n*$/, '\n');
}

/** Adds `.env` to .gitignore unless a line already ignores it; creates the file when missing. */
function ignoreDotEnv(file: string): FileAction {
  const old = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (old !== undefined && old.split(/\r?\n/).some((l) => ['.env', '/.env', '.env*', '*.env'].includes(l.trim()))) return 'unchanged';
  const sep = old === undefined || old === '' || old.endsWith('\n') ? '' : '\n';
  writeFileSync(file, `${old ?? ''}${sep}.env\n`);
  return old === undefined ? 'created' : 'updated';
}

interface RegisterPlan {
  /** undefined: nothing to write. */
  text?: string;
  action: FileAction;
  otherServers: string[];
}

/** Merge the mcpx entry into .mcp.json, keeping every other entry and top-level key. */
function planRegister(file: string, force: boolean): RegisterPlan {
  const old = readJsonObject(file);
  const servers = old?.mcpServers === undefined ? {} : old.mcpServers;
  if (!isObject(servers)) throw new McpxError(`${file}: "mcpServers" must be an object`, { code: 'CONFIG_INVALID', file });
  const otherServers = Object.keys(servers).filter((n) => n !== 'mcpx');
  const current = servers.mcpx;
  if (current !== undefined && JSON.stringify(current) === JSON.stringify(MCPX_ENTRY)) return { action: 'unchanged', otherServers };
  if (current !== undefined && !force) {
    throw new McpxError(`${file} already has a different "mcpx" entry; not replacing it`, {
      code: 'USAGE',
      file,
      suggestion: 'pass --force to replace it (the other entries are kept)',
    });
  }
  const next = { ...(old ?? {}), mcpServers: { ...servers, mcpx: MCPX_ENTRY } };
  return { text: jsonText(next), action: old === undefined ? 'created' : 'updated', otherServers };
}

function otherServersIn(file: string): string[] {
  try {
    const servers = readJsonObject(file)?.mcpServers;
    return isObject(servers) ? Object.keys(servers).filter((n) => n !== 'mcpx') : [];
  } catch {
    return []; // only a hint: a broken .mcp.json is import's business, not init's
  }
}
