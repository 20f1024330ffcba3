/**
 * A short excerpt of a document around the words of a query, matched words marked «like this».
 * Done in JS rather than with FTS5 snippet(): that re-tokenizes the whole row per result and cost more
 * than the search itself. Matching is by word prefix with a crude suffix strip ("tests" finds
 * "testing"), close enough to the porter stemmer for choosing a window.
 */
const WINDOW_WORDS = 24;

export function makeSnippet(text: string, terms: readonly string[]): string {
  const words = text
    .replace(/```[\s\S]*?```/g, ' ') // code blocks make poor snippets
    .replace(/[#>*_`|]+/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
  if (words.length === 0) return '';
  const stems = terms.map(stem).filter(Boolean).map(escapeRegExp);
  if (stems.length === 0) return ellipsis(words, 0, Math.min(words.length, WINDOW_WORDS));
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${stems.join('|')})[\\p{L}\\p{N}'-]*`, 'giu');
  const hit = words.map((w) => (w.search(pattern) === -1 ? 0 : 1));

  // The window holding the most matched words; the earliest such window on ties.
  let best = 0;
  let bestCount = -1;
  let count = 0;
  for (let i = 0; i < words.length; i++) {
    count += hit[i]!;
    if (i >= WINDOW_WORDS) count -= hit[i - WINDOW_WORDS]!;
    const start = Math.max(0, i - WINDOW_WORDS + 1);
    if (i >= Math.min(WINDOW_WORDS, words.length) - 1 && count > bestCount) {
      bestCount = count;
      best = start;
    }
  }
  // Start a couple of words before the first hit of the window, so the match is not the first word.
  const firstHit = hit.indexOf(1, best);
  if (firstHit !== -1 && firstHit - best > 3) best = Math.min(firstHit - 2, Math.max(0, words.length - WINDOW_WORDS));
  const end = Math.min(words.length, best + WINDOW_WORDS);
  const marked = words.map((w, i) => (i >= best && i < end && hit[i] ? w.replace(pattern, (m) => `«${m}»`) : w));
  return ellipsis(marked, best, end);
}

function ellipsis(words: string[], start: number, end: number): string {
  return `${start > 0 ? '…' : ''}${words.slice(start, end).join(' ')}${end < words.length ? '…' : ''}`;
}

function stem(term: string): string {
  const t = term.toLowerCase();
  if (t.length <= 4) return t;
  return t.replace(/(?:ing|ed|es|s)$/, '');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
