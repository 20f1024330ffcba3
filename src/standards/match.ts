import picomatch from 'picomatch';
import type { StandardDoc } from './types.js';

/**
 * `applies_to` globs against the path of a file under review. Paths arrive in every shape (absolute,
 * `./src/x.ts`, Windows separators), while globs are written relative to a repository root; so the
 * path is tried whole and then with leading folders stripped one at a time: `/home/me/app/src/a.ts`
 * matches `src/**\/*.ts`. A glob without a slash (`*.md`) matches the file name anywhere.
 */
type Matcher = (candidate: string) => boolean;

const matchers = new WeakMap<StandardDoc, { glob: string; test: Matcher }[]>();

function compiled(doc: StandardDoc): { glob: string; test: Matcher }[] {
  let list = matchers.get(doc);
  if (!list) {
    list = doc.appliesTo.map((glob) => ({ glob, test: picomatch(glob, { dot: true, basename: !glob.includes('/') }) }));
    matchers.set(doc, list);
  }
  return list;
}

export function normalizeReviewPath(path: string): string {
  return path.trim().replace(/\\/g, '/').replace(/^(?:\.\/)+/, '');
}

/** Candidate spellings of the path, longest first. */
function suffixes(path: string): string[] {
  const parts = normalizeReviewPath(path).split('/').filter(Boolean);
  return parts.map((_, i) => parts.slice(i).join('/'));
}

/** The first glob of doc.appliesTo that matches path, or undefined. */
export function matchingGlob(doc: StandardDoc, path: string): string | undefined {
  const globs = compiled(doc);
  if (globs.length === 0) return undefined;
  const candidates = suffixes(path);
  for (const { glob, test } of globs) if (candidates.some((c) => test(c))) return glob;
  return undefined;
}

/** For search filtering: a standard tied to no files applies everywhere. */
export function appliesTo(doc: StandardDoc, path: string): boolean {
  return doc.appliesTo.length === 0 || matchingGlob(doc, path) !== undefined;
}
