/**
 * Words of tool names, descriptions and queries, as the ranking compares them: snake_case, kebab-case,
 * dotted and camelCase names split into words, lower-cased, common English filler dropped, and (when
 * asked) a light suffix stemming so that "files", "listing" and "listed" meet "file" and "list".
 */

/** Filler that says nothing about which tool is meant (in queries and descriptions alike). */
export const STOP = new Set(
  ('a an the to of in on for and or with by is are be been this that these those it its from as at my me i we you your our ' +
    'all any can do does did how what which who please want need needs should will would could into about using use used ' +
    'if then than there their them they so not no only just also via per each every when where while one some such ' +
    'tool tools given let lets').split(' '),
);

export interface TokenOptions {
  stem?: boolean;
}

/** camelCase and ACRONYMWord boundaries become spaces; everything that is not a letter or digit separates words. */
export function words(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w.length > 0);
}

export function tokenize(text: string, opts: TokenOptions = {}): string[] {
  const out: string[] = [];
  for (const w of words(text)) {
    // Numbers (issue keys' digits, example ids, HTTP codes) say nothing about which tool is meant.
    if (STOP.has(w) || w.length === 1 || /^\d+$/.test(w)) continue;
    out.push(opts.stem ? stem(w) : w);
  }
  return out;
}

/**
 * A light English stemmer: plural and -ing/-ed endings and a final e go, a doubled final consonant
 * becomes one. Crude on purpose: the same cut is made in the index and in the query, so "create",
 * "created" and "creating" all become "creat".
 */
export function stem(w: string): string {
  let s = w;
  if (s.length > 4 && s.endsWith('ies')) s = s.slice(0, -3) + 'y';
  else if (/(sses|shes|ches|xes|zes)$/.test(s)) s = s.slice(0, -2);
  else if (s.length > 3 && s.endsWith('s') && !/(ss|us|is)$/.test(s)) s = s.slice(0, -1);
  if (s.length > 5 && s.endsWith('ing')) s = undouble(s.slice(0, -3));
  else if (s.length > 4 && s.endsWith('ed')) s = undouble(s.slice(0, -2));
  if (s.length > 3 && s.endsWith('e')) s = s.slice(0, -1);
  return s;
}

function undouble(s: string): string {
  return /([b-df-hj-np-tv-z])\1$/.test(s) && !s.endsWith('ll') && !s.endsWith('ss') ? s.slice(0, -1) : s;
}

/**
 * Whether a request names a file by its name or path ("src/index.ts", "package.json", "~/notes", "/etc/hosts"):
 * then it speaks of a file without the word. Not "and/or", "e.g.", "v1.2" or "PROJ-12".
 */
export function namesAFile(text: string): boolean {
  return text.split(/\s+/).some((raw) => {
    const t = raw.replace(/^["'`(<[]+/, '').replace(/[)"'`>\],;:!?]+$/, '').replace(/\.$/, '');
    return /^(~|\.{1,2})?\/\S/.test(t) || /^[\w./-]*(?:[\w-]{2}|\/[\w-])\.[a-z][a-z0-9]{0,4}$/i.test(t);
  });
}
