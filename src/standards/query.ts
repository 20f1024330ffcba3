/**
 * User text → a safe FTS5 MATCH expression. Every word becomes a quoted string, so FTS5 operators,
 * column filters, quotes and parentheses in the input are plain text and can never make a query fail.
 * Words are OR-ed: BM25 then ranks documents that match more (and rarer) words first.
 */
export const MAX_QUERY_CHARS = 1000;
/** More words than this add cost and no precision. */
const MAX_TERMS = 32;

export type SanitizedQuery = { ok: true; match: string; terms: string[] } | { ok: false; reason: string };

export function sanitizeQuery(query: string): SanitizedQuery {
  const trimmed = query.trim();
  if (trimmed.length === 0) return { ok: false, reason: 'The query is empty: pass a few words describing the standard you are looking for.' };
  if (trimmed.length > MAX_QUERY_CHARS) {
    return { ok: false, reason: `The query is ${trimmed.length} characters long; keep it under ${MAX_QUERY_CHARS} characters (a few keywords work best).` };
  }
  // A word may hold inner hyphens/dots/apostrophes ("type-safe", "node.js"): kept as one phrase.
  const words = trimmed.normalize('NFKC').toLowerCase().match(/[\p{L}\p{N}_]+(?:['.\-][\p{L}\p{N}_]+)*/gu) ?? [];
  const terms = [...new Set(words)].slice(0, MAX_TERMS);
  if (terms.length === 0) return { ok: false, reason: `The query "${trimmed.slice(0, 80)}" has no words to search for; use letters or digits.` };
  return { ok: true, terms, match: terms.map((t) => `"${t}"`).join(' OR ') };
}
