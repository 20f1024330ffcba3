/**
 * Matches a URI against an RFC 6570 URI template, as far as routing needs: level 1 `{var}` (simple
 * expansion, which cannot produce '/', '?' or '#', so it matches one non-empty stretch without them)
 * and level 2 `{+var}` / `{#var}` (reserved expansion: any non-empty text, slashes included, as in
 * `file:///{+path}`). A template using any other operator or a variable list cannot be matched:
 * compileTemplate returns undefined and routing falls back to the URI's scheme.
 */
export type UriMatch = Record<string, string>;
export type UriMatcher = (uri: string) => UriMatch | undefined;

const EXPRESSION = /\{([^{}]*)\}/g;
const VARNAME = /^(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2})(?:\.?(?:[A-Za-z0-9_]|%[0-9A-Fa-f]{2}))*$/;

export function compileTemplate(template: string): UriMatcher | undefined {
  const names: string[] = [];
  let pattern = '';
  let last = 0;
  for (const m of template.matchAll(EXPRESSION)) {
    const literal = template.slice(last, m.index);
    if (/[{}]/.test(literal)) return undefined; // an unbalanced brace
    pattern += escape(literal);
    last = m.index + m[0].length;
    const body = m[1]!;
    const reserved = body[0] === '+' || body[0] === '#';
    const name = reserved ? body.slice(1) : body;
    if (!VARNAME.test(name)) return undefined; // another operator, a list, a modifier (:3, *)
    if (body[0] === '#') pattern += '#';
    pattern += reserved ? '(.+)' : '([^/?#]+)';
    names.push(name);
  }
  const tail = template.slice(last);
  if (/[{}]/.test(tail)) return undefined;
  const re = new RegExp(`^${pattern}${escape(tail)}$`);
  return (uri) => {
    const found = re.exec(uri);
    if (!found) return undefined;
    return Object.fromEntries(names.map((n, i) => [n, found[i + 1]!]));
  };
}

function escape(literal: string): string {
  return literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
