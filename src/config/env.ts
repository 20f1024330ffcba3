import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import type { ValuePart } from './types.js';

/**
 * Variables for ${VAR} expansion: the process environment wins, then `.env` beside the config file,
 * then `.env` in the working directory (dotenv semantics: never override what is already set).
 * Kept as a map rather than written into process.env, so that a re-read (token rotation) is clean.
 * Reading a .env runs nothing: its values are data (see expandValue).
 */
export interface Variables {
  values: Record<string, string>;
  files: string[];
}

export interface VariableSources {
  /** Also read `.env` in the working directory (not while that folder's mcpx.json waits for trust). */
  cwdEnv?: boolean;
}

export function loadVariables(configFile: string, env: NodeJS.ProcessEnv = process.env, opts: VariableSources = {}): Variables {
  const candidates = [join(dirname(configFile), '.env'), ...(opts.cwdEnv === false ? [] : [resolve('.env')])];
  const files = [...new Set(candidates)].filter((f) => existsSync(f));
  const values: Record<string, string> = {};
  for (const f of files.slice().reverse()) Object.assign(values, parseDotenv(readFileSync(f)));
  for (const [k, v] of Object.entries(env)) if (v !== undefined) values[k] = v;
  return { values, files };
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
