import { loadVariables } from '../config/env.js';
import type { Config } from '../config/types.js';

/**
 * The values of the variables a config uses (`${VAR}` in env, headers, args, url), read the same way
 * loadConfig reads them. Only for redaction and for `****` + length in doctor: never printed.
 * Values shorter than 6 characters are left out: redacting "1" or "dev" would mangle every line.
 */
export function usedVariableValues(config: Config): Map<string, string> {
  const { values } = loadVariables(config.file); // as loadConfig read them
  const out = new Map<string, string>();
  for (const s of config.servers) {
    for (const v of s.variables) {
      const value = values[v.name];
      if (value !== undefined) out.set(v.name, value);
    }
  }
  return out;
}

export interface Redactor {
  (text: string): string;
  /** Every string inside a plain JSON-like value, redacted (for --json documents). */
  deep<T>(value: T): T;
}

export function redactor(secrets: Iterable<string>): Redactor {
  const list = [...new Set([...secrets].filter((s) => s.length >= 6))].sort((a, b) => b.length - a.length);
  const one = (text: string): string => {
    let out = text;
    for (const s of list) if (out.includes(s)) out = out.split(s).join('****');
    return out;
  };
  const deep = <T>(value: T): T => {
    if (typeof value === 'string') return one(value) as T;
    if (Array.isArray(value)) return value.map(deep) as T;
    if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, deep(v)])) as T;
    }
    return value;
  };
  return Object.assign(one, { deep });
}
