import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse as parseDotenv } from 'dotenv';

/**
 * Variables for ${VAR} expansion: the process environment wins, then `.env` beside the config file,
 * then `.env` in the working directory (dotenv semantics: never override what is already set).
 * Kept as a map rather than written into process.env, so that a re-read (token rotation) is clean.
 */
export interface Variables {
  values: Record<string, string>;
  files: string[];
}

export function loadVariables(configFile: string, env: NodeJS.ProcessEnv = process.env): Variables {
  const files = [...new Set([join(dirname(configFile), '.env'), resolve('.env')])].filter((f) => existsSync(f));
  const values: Record<string, string> = {};
  for (const f of files.slice().reverse()) Object.assign(values, parseDotenv(readFileSync(f)));
  for (const [k, v] of Object.entries(env)) if (v !== undefined) values[k] = v;
  return { values, files };
}

const VAR_RE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface Expansion {
  value: string;
  used: { name: string; set: boolean; hasDefault: boolean }[];
  missing: string[];
}

/** `${VAR}` and `${VAR:-default}`, as Claude Code expands them in .mcp.json. */
export function expandVars(text: string, vars: Record<string, string>): Expansion {
  const used: Expansion['used'] = [];
  const missing: string[] = [];
  const value = text.replace(VAR_RE, (_m, name: string, def: string | undefined) => {
    const v = vars[name];
    used.push({ name, set: v !== undefined, hasDefault: def !== undefined });
    if (v !== undefined && v !== '') return v;
    if (def !== undefined) return def;
    if (v === undefined) missing.push(name);
    return v ?? '';
  });
  return { value, used, missing };
}
