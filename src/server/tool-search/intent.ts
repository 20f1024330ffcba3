import { synonymTable } from './synonyms.js';
import { stem, STOP, words } from './tokens.js';

/**
 * Whether a request asks to look at something or to change it, read from how it opens: a question
 * ("who is watching…", "what releases…") or a reading verb ("show…", "list…") asks to read; an
 * imperative changing verb ("delete…", "rename…") asks to write. Anything else says nothing. Tools
 * declare the same thing with `annotations.readOnlyHint`, so near neighbours that differ only there
 * (`get_transitions` / `transition_issue`, `get_worklog` / `add_worklog`) can be told apart.
 */
export type Intent = 'read' | 'write';

const QUESTION = new Set(['what', 'which', 'who', 'whom', 'whose', 'how', 'when', 'where', 'why']);
const READ_HEADS = ['find', 'get', 'list'];
const WRITE_HEADS = ['create', 'update', 'delete', 'write', 'move', 'copy', 'assign'];

function verbs(heads: string[]): Set<string> {
  const table = synonymTable(true);
  return new Set(heads.flatMap((h) => [stem(h), ...(table.get(stem(h)) ?? [])]));
}
let lexicon: { read: Set<string>; write: Set<string> } | undefined;

export function queryIntent(query: string): Intent | undefined {
  lexicon ??= { read: verbs(READ_HEADS), write: verbs(WRITE_HEADS) };
  for (const w of words(query)) {
    if (QUESTION.has(w)) return 'read';
    if (STOP.has(w) || w.length === 1 || /^\d+$/.test(w)) continue;
    const s = stem(w);
    if (lexicon.write.has(s) && !lexicon.read.has(s)) return 'write';
    if (lexicon.read.has(s) && !lexicon.write.has(s)) return 'read';
    return undefined;
  }
  return undefined;
}
