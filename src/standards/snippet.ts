/**
 * A short excerpt of a document around the words of a query, matched words marked «like this».
 * Done in JS rather than with FTS5 snippet(): that re-tokenizes the whole row per result and cost more
 * than the search itself. Matching is by word prefix with a crude suffix strip ("tests" finds
 * "testing"), close enough to the porter stemmer for choosing a window.
 */
const WINDOW_WORDS = 24;

export function makeSnippet(text: string, terms: readonly string[]): string {
  const clean = text
    .replace(/```[\s\S]*?```/g, ' ') // code blocks make poor snippets
    .replace(/[#>*_`|]+/g, ' ');
  const words: string[] = [];
  const starts: number[] = [];
  for (const m of clean.matchAll(/\S+/g)) {
    words.push(m[0]);
    starts.push(m.index);
  }
  if (words.length === 0) return '';
  const stems = terms.map(stem).filter(Boolean).map(escapeRegExp);
  if (stems.length === 0) return ellipsis(words.slice(0, WINDOW_WORDS), false, words.length > WINDOW_WORDS);
  const pattern = new RegExp(`(?<![\\p{L}\\p{N}])(?:${stems.join('|')})[\\p{L}\\p{N}'-]*`, 'giu');

  // One pass of the pattern over the text; each match flags the word it falls in (offsets ascend).
  const hit = new Uint8Array(words.length);
  let w = 0;
  for (const m of clean.matchAll(pattern)) {
    while (w + 1 < words.length && starts[w + 1]! <= m.index) w++;
    hit[w] = 1;
  }

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
  const shown = words.slice(best, end).map((word, i) => (hit[best + i] ? word.replace(pattern, (m) => `«${m}»`) : word));
  return ellipsis(shown, best > 0, end < words.length);
}

function ellipsis(words: string[], cutBefore: boolean, cutAfter: boolean): string {
  return `${cutBefore ? '…' : ''}${words.join(' ')}${cutAfter ? '…' : ''}`;
}

function stem(term: string): string {
  const t = term.toLowerCase();
  if (t.length <= 4) return t;
  return t.replace(/(?:ing|ed|es|s)$/, '');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
