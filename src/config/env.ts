import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { McpxError, errorMessage } from '../errors.js';
import type { ValuePart } from './types.js';

/**
 * Variables for ${VAR} expansion: the process environment wins, then the `.env` beside the config file
 * (dotenv semantics: never override what is already set). No other `.env` is read: the one in the
 * working directory is the project's, read only when the project's own mcpx.json is the config (then it
 * is the one beside it, and covered by its trust), never to fill the user's own config.
 * Kept as a map rather than written into process.env, so that a re-read (token rotation) is clean.
 * Reading a .env runs nothing: its values are data (see expandValue).
 */
export interface Variables {
  values: Record<string, string>;
  files: string[];
}

/** The one `.env` a config reads: beside it. */
export function envFileOf(configFile: string): string {
  return join(dirname(configFile), '.env');
}

/** The bytes of the `.env` beside the config; undefined when there is none. */
export function readEnvFile(configFile: string): Buffer | undefined {
  return readDotenv(envFileOf(configFile));
}

/** The bytes of that `.env` file; undefined when there is none. */
export function readDotenv(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new McpxError(`cannot read ${file}: ${code ?? errorMessage(e)}`, { code: 'CONFIG_PARSE', file, suggestion: 'make it a readable file, or remove it' });
  }
}

/** `dotenv`: the bytes of the .env beside the config as already read (trust checks those very bytes). */
export function loadVariables(configFile: string, env: NodeJS.ProcessEnv = process.env, dotenv = readEnvFile(configFile)): Variables {
  const values: Record<string, string> = dotenv ? { ...parseDotenv(dotenv) } : {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) values[k] = v;
  return { values, files: dotenv ? [envFileOf(configFile)] : [] };
}

/** `${cmd:…}` / `${sh:…}`, or `${VAR}` / `${VAR:-default}`: one pattern, so one pass finds them all. */
const TOKEN_RE = /\$\{(?:(cmd|sh):([^}]+)|([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?)\}/g;

export interface Expansion {
  /** The value: literal text and variable values, with each command left as its `${cmd:…}` text. */
  value: string;
  /** Set when the text asks for a command: the pieces to join once the commands have run. */
  parts?: ValuePart[];
  used: { name: string; set: boolean; hasDefault: boolean }[];
  missing: string[];
}

/**
 * `${VAR}` and `${VAR:-default}`, as Claude Code expands them in .mcp.json, and the secret commands
 * `${cmd:…}`/`${sh:…}`, in one pass over the config file's own text. A variable's value is data: it is
 * copied in verbatim and never scanned again, so a `${sh:…}` inside a .env value stays text. Built by
 * slicing, not String.replace, whose replacement patterns (`$$`, `$&`, `$'`) would change a secret.
 */
export function expandValue(text: string, vars: Record<string, string>): Expansion {
  const used: Expansion['used'] = [];
  const missing: string[] = [];
  const parts: ValuePart[] = [];
  const add = (s: string) => {
    if (typeof parts[parts.length - 1] === 'string') parts[parts.length - 1] += s;
    else if (s) parts.push(s);
  };
  let at = 0;
  let commands = false;
  for (const m of text.matchAll(TOKEN_RE)) {
    add(text.slice(at, m.index));
    at = m.index + m[0].length;
    const [whole, run, command, name, def] = m as unknown as [string, 'cmd' | 'sh' | undefined, string, string, string | undefined];
    if (run) {
      parts.push({ run, command: command.trim(), text: whole });
      commands = true;
      continue;
    }
    const v = vars[name];
    used.push({ name, set: v !== undefined, hasDefault: def !== undefined });
    if (v !== undefined && v !== '') add(v);
    else if (def !== undefined) add(def);
    else if (v === undefined) missing.push(name);
  }
  add(text.slice(at));
  const value = parts.map((p) => (typeof p === 'string' ? p : p.text)).join('');
  return { value, parts: commands ? parts : undefined, used, missing };
}
