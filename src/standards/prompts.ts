import { ProtocolError, ProtocolErrorCode, type GetPromptResult, type Prompt } from '@modelcontextprotocol/server';
import type { StandardsCatalog } from './catalog.js';
import { pathMatcher } from './match.js';
import { sanitizeQuery } from './query.js';
import { renderStandards } from './render.js';

/**
 * `review_with_standards`: a ready-to-send review request carrying the full text of the standards that
 * apply to a file (its applies_to matches) plus the best search hits for an optional focus (whatever
 * their applies_to: a focus is the reviewer asking for them).
 */
export const REVIEW_PROMPT: Prompt = {
  name: 'review_with_standards',
  title: 'Review a file against the team standards',
  description: 'Review a file against the team standards that apply to it (applies_to globs), plus those matching an optional focus.',
  arguments: [
    { name: 'path', description: 'Path of the file to review, e.g. src/api/users.ts', required: true },
    { name: 'focus', description: 'What to look at closely, e.g. "error handling" or "SQL injection"', required: false },
  ],
};

/** Focus hits added on top of the applies_to matches. */
const FOCUS_HITS = 3;

export function getReviewPrompt(catalog: StandardsCatalog, args: Record<string, string> = {}): GetPromptResult {
  const path = args.path?.trim();
  if (!path) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'review_with_standards needs `path`: the file to review.');
  const focus = args.focus?.trim() || undefined;

  const match = pathMatcher(path);
  const forFile = catalog.list().filter((doc) => match(doc) !== undefined);
  const forFocus = [];
  if (focus) {
    const q = sanitizeQuery(focus);
    if (!q.ok) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `focus: ${q.reason}`);
    const already = new Set(forFile.map((d) => d.id));
    const hits = catalog.index.search({ match: q.match, terms: q.terms, limit: FOCUS_HITS, filter: (d) => !already.has(d.id) });
    forFocus.push(...hits.map((h) => h.doc));
  }

  const sections = [
    `Review \`${path}\` against the team standards below.${focus ? ` Pay particular attention to: ${focus}.` : ''}`,
    'For each finding, name the standard (its id), quote the code concerned and propose a concrete fix. ' +
      'Say nothing about standards the file already follows, and do not invent rules that are not written below.',
  ];
  if (forFile.length > 0) sections.push(`## Standards that apply to \`${path}\``, renderStandards(forFile));
  if (forFocus.length > 0) sections.push(`## Standards about "${focus}"`, renderStandards(forFocus));
  if (forFile.length === 0 && forFocus.length === 0) {
    sections.push(`No written standard applies to \`${path}\`${focus ? ` or mentions "${focus}"` : ''}; review it for correctness and clarity only.`);
  }
  return {
    description: `${forFile.length + forFocus.length} standard(s) for ${path}`,
    messages: [{ role: 'user', content: { type: 'text', text: sections.join('\n\n') } }],
  };
}
