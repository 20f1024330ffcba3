import picomatch from 'picomatch';
import type { StandardDoc } from './types.js';

/**
 * `applies_to` globs against the path of a file under review. Paths arrive in every shape (absolute,
 * `./src/x.ts`, Windows separators), while globs are written relative to a repository root; so the
 * path is tried whole and then with leading folders stripped one at a time: `/home/me/app/src/a.ts`
 * matches `src/**\/*.ts`. A glob without a slash (`*.md`) matches the file name anywhere.
 */
export type PathMatcher = (doc: StandardDoc) => string | undefined;

/** Compiled once per distinct glob: a corpus repeats the same few globs across many documents. */
const compiledGlobs = new Map<string, (candidate: string) => boolean>();

function compile(glob: string): (candidate: string) => boolean {
  let test = compiledGlobs.get(glob);
  if (!test) {
    test = picomatch(glob, { dot: true, basename: !glob.includes('/') });
    compiledGlobs.set(glob, test);
  }
  return test;
}

export function normalizeReviewPath(path: string): string {
  return path.trim().replace(/\\/g, '/').replace(/^(?:\.\/)+/, '');
}

/**
 * For one path: returns, for a document, the first of its applies_to globs that matches, or undefined.
 * Each glob is evaluated once per path, however many documents share it.
 */
export function pathMatcher(path: string): PathMatcher {
  const parts = normalizeReviewPath(path).split('/').filter(Boolean);
  const candidates = parts.map((_, i) => parts.slice(i).join('/'));
  const verdicts = new Map<string, boolean>();
  const matches = (glob: string) => {
    let verdict = verdicts.get(glob);
    if (verdict === undefined) {
      const test = compile(glob);
      verdict = candidates.some((c) => test(c));
      verdicts.set(glob, verdict);
    }
    return verdict;
  };
  return (doc) => doc.appliesTo.find(matches);
}

/** For search filtering: a standard tied to no files applies everywhere. */
export function appliesToPath(path: string): (doc: StandardDoc) => boolean {
  const match = pathMatcher(path);
  return (doc) => doc.appliesTo.length === 0 || match(doc) !== undefined;
}
