// The output budget's cut, without a process: where it cuts, what passes unchanged, the pages.
import { describe, expect, it } from 'vitest';
import { boundary, cutNote, cutResult, paginate, textChars } from '../../src/pipeline/budget.js';

describe('boundary', () => {
  it('prefers a paragraph break, then a line break, then a space, in the second half of the room', () => {
    expect(boundary('aaaa\n\nbbbb\ncc dd', 14)).toBe(11); // after "bbbb\n": no paragraph break past half
    expect(boundary('aaaaaa\n\nbb\ncc', 12)).toBe(8); // after the paragraph break
    expect(boundary('aaaaaaaa bbbbbbbb', 12)).toBe(9); // after the space
    expect(boundary('abcdefghijklmnop', 10)).toBe(10); // no boundary: at the limit
    expect(boundary('short', 10)).toBe(5);
  });

  it('never splits a surrogate pair', () => {
    const s = 'abcdefghi😀xyz'; // the emoji's high surrogate at index 9
    expect(boundary(s, 10)).toBe(9);
  });
});

describe('cutResult', () => {
  it('leaves a result within the budget alone (undefined: the caller keeps its very object)', () => {
    const r = { content: [{ type: 'text', text: 'x'.repeat(400) }] };
    expect(cutResult(r, 100)).toBeUndefined(); // 400 characters = 100 tokens
    expect(cutResult({ content: [{ type: 'text', text: 'x'.repeat(401) }] }, 100)).toBeDefined();
    expect(cutResult({ content: [{ type: 'text', text: 'x'.repeat(10_000) }] }, 0)).toBeUndefined(); // 0: no budget
  });

  it('counts only text: an image of any size passes, and so does structuredContent', () => {
    const img = { type: 'image', data: 'A'.repeat(100_000), mimeType: 'image/png' };
    expect(textChars({ content: [img, { type: 'text', text: 'abc' }] })).toBe(3);
    const structured = { big: 'y'.repeat(100_000) };
    const r = { content: [{ type: 'text', text: 'line\n'.repeat(1000) }, img, { type: 'audio', data: 'B', mimeType: 'audio/wav' }], structuredContent: structured, _meta: { m: 1 } };
    const cut = cutResult(r, 200)!;
    const out = cut.withNote('NOTE') as { content: { type: string; text?: string }[]; structuredContent: unknown; _meta: unknown };
    expect(out.content.map((b) => b.type)).toEqual(['text', 'image', 'audio', 'text']);
    expect(out.content[1]).toBe(img);
    expect(out.structuredContent).toBe(structured);
    expect(out._meta).toEqual({ m: 1 });
    expect(out.content.at(-1)!.text).toBe('NOTE');
    expect(out.content[0]!.text!.length + 'NOTE'.length).toBeLessThanOrEqual(800);
    expect(cut.keptChars + cut.pages.join('').length).toBe(5000);
  });

  it('moves the text blocks after the cut to the pages, joined by a blank line', () => {
    const r = { content: [{ type: 'text', text: 'a'.repeat(1000) }, { type: 'text', text: 'b'.repeat(1000) }, { type: 'text', text: 'c'.repeat(1000) }] };
    const cut = cutResult(r, 300)!; // 1200 characters, 600 of them for the note at most
    const first = cut.withNote('n') as { content: { text: string }[] };
    expect(first.content.map((b) => b.text[0])).toEqual(['a', 'n']);
    expect(cut.pages.join('')).toBe('a'.repeat(1000 - cut.keptChars) + '\n\n' + 'b'.repeat(1000) + '\n\n' + 'c'.repeat(1000));
    for (const p of cut.pages) expect(p.length).toBeLessThanOrEqual(1200);
  });

  it('says how much was left out and how to page', () => {
    const note = cutNote('docs', 20_000, { pages: ['x', 'y'], totalChars: 133_000, keptChars: 79_600 }, 'h-1');
    expect(note).toContain('20,000 tokens for docs');
    expect(note).toContain('79,600 of 133,000 characters shown, 53,400 (about 13,350 tokens) left out, in 2 more pages');
    expect(note).toContain('mcpx__more {"handle": "h-1", "page": 2}');
  });
});

describe('paginate', () => {
  it('splits at boundaries into pages of at most the size, losing nothing', () => {
    const text = Array.from({ length: 50 }, (_, i) => `row ${i}`).join('\n');
    const pages = paginate(text, 40);
    expect(pages.join('')).toBe(text);
    for (const p of pages.slice(0, -1)) {
      expect(p.length).toBeLessThanOrEqual(40);
      expect(p.endsWith('\n')).toBe(true);
    }
  });
});
