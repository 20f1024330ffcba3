/**
 * The output budget: a tool result whose text is longer than the budget (`maxOutputTokens`, at 4
 * characters a token) is cut at a line or paragraph boundary; the rest is split into pages of the same
 * size, which `mcpx__more {handle, page}` returns. Images, audio, resource links and embedded resources
 * pass unchanged, `structuredContent` is never cut, and a result within the budget is not touched (the
 * same object: its bytes go out as the child sent them).
 */
export const CHARS_PER_TOKEN = 4;

type Result = Record<string, unknown>;
type Block = { type?: unknown; text?: unknown } & Record<string, unknown>;

export interface Cut {
  /** The first page: the result with its text cut; `withNote` adds the note that names the handle. */
  withNote(note: string): Result;
  /** The text left out, in pages (page 2 onwards). */
  pages: string[];
  totalChars: number;
  keptChars: number;
}

/** Characters of the text blocks of a tool result. */
export function textChars(result: Result): number {
  const content = result.content;
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const b of content as Block[]) if (b && b.type === 'text' && typeof b.text === 'string') n += b.text.length;
  return n;
}

/** Cuts a result to `maxTokens`, or returns undefined when it fits (or there is no budget). */
export function cutResult(result: Result, maxTokens: number): Cut | undefined {
  if (!maxTokens) return undefined;
  const max = maxTokens * CHARS_PER_TOKEN;
  const total = textChars(result);
  if (total <= max) return undefined;
  // Room for the note within the budget (a tiny budget keeps half for the text).
  const room = Math.max(1, max - Math.min(NOTE_ROOM, Math.floor(max / 2)));
  const kept: Block[] = [];
  const rest: string[] = [];
  let used = 0;
  for (const b of result.content as Block[]) {
    if (!b || b.type !== 'text' || typeof b.text !== 'string') {
      kept.push(b); // images, audio, resource links, embedded resources: unchanged
      continue;
    }
    if (rest.length) {
      rest.push(b.text);
      continue;
    }
    if (used + b.text.length <= room) {
      kept.push(b);
      used += b.text.length;
      continue;
    }
    const end = boundary(b.text, room - used);
    if (end > 0) kept.push({ ...b, text: b.text.slice(0, end) });
    used += end;
    rest.push(b.text.slice(end));
  }
  const pages = paginate(rest.join('\n\n'), room);
  return { withNote: (note) => ({ ...result, content: [...kept, { type: 'text', text: note }] }), pages, totalChars: total, keptChars: used };
}

/** What the note takes at most (a handle of 36 characters and numbers in the millions included). */
const NOTE_ROOM = 400;

/** The text split into pages of at most `size` characters, each ending at a boundary. */
export function paginate(text: string, size: number): string[] {
  const pages: string[] = [];
  let rest = text;
  while (rest.length > size) {
    const end = boundary(rest, size);
    pages.push(rest.slice(0, end));
    rest = rest.slice(end);
  }
  if (rest.length) pages.push(rest);
  return pages;
}

/**
 * Where to cut `text` to at most `max` characters: after the last paragraph break, else the last line
 * break, else the last space, in the second half of the room; else at `max` itself (never splitting a
 * surrogate pair). Always more than 0 when max > 0.
 */
export function boundary(text: string, max: number): number {
  if (max <= 0) return 0;
  if (text.length <= max) return text.length;
  const half = Math.floor(max / 2);
  for (const sep of ['\n\n', '\n', ' ']) {
    const at = text.lastIndexOf(sep, max - sep.length);
    if (at >= half) return at + sep.length;
  }
  const code = text.charCodeAt(max - 1);
  return code >= 0xd800 && code <= 0xdbff ? max - 1 : max;
}

/** The sentence that ends a cut result: how much was left out, and how to get it. */
export function cutNote(server: string, maxTokens: number, cut: Pick<Cut, 'pages' | 'totalChars' | 'keptChars'>, handle: string): string {
  const leftOut = cut.totalChars - cut.keptChars;
  const n = (x: number) => x.toLocaleString('en-US');
  return (
    `[mcpx: this result was cut to the output budget (${n(maxTokens)} tokens for ${server}): ${n(cut.keptChars)} of ${n(cut.totalChars)} characters shown, ` +
    `${n(leftOut)} (about ${n(Math.ceil(leftOut / CHARS_PER_TOKEN))} tokens) left out, in ${cut.pages.length} more page${cut.pages.length === 1 ? '' : 's'}. ` +
    `Call mcpx__more {"handle": "${handle}", "page": 2} for the next part.]`
  );
}

/** The sentence after a page that mcpx__more returned. */
export function pageNote(handle: string, page: number, pages: number): string {
  return page < pages
    ? `[mcpx: page ${page} of ${pages}. Call mcpx__more {"handle": "${handle}", "page": ${page + 1}} for the next part.]`
    : `[mcpx: page ${page} of ${pages}, the last.]`;
}
