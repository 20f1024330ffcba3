import { canonicalJson } from './canonical.js';

/**
 * Where two JSON values differ, as short lines ("properties.loud: added {"type":"boolean"}",
 * "required: ["text"] → ["text","loud"]"): for showing a changed tool schema to a person. Objects are
 * compared key by key; arrays and scalars as whole values. At most `max` lines, then "… N more".
 */
export function jsonDifferences(before: unknown, after: unknown, max = 8): string[] {
  const out: string[] = [];
  walk(before, after, '', out);
  return out.length > max ? [...out.slice(0, max), `… ${out.length - max} more`] : out;
}

function walk(a: unknown, b: unknown, path: string, out: string[]): void {
  if (canonicalJson(a) === canonicalJson(b)) return;
  if (isObject(a) && isObject(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const p = path ? `${path}.${k}` : k;
      if (!(k in a)) out.push(`${p}: added ${short(b[k])}`);
      else if (!(k in b)) out.push(`${p}: removed`);
      else walk(a[k], b[k], p, out);
    }
    return;
  }
  out.push(`${path || '(the whole value)'}: ${short(a)} → ${short(b)}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function short(v: unknown, n = 60): string {
  const s = v === undefined ? 'nothing' : canonicalJson(v);
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
