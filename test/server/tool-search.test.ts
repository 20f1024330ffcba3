// Tool search's pieces without a process: the tokeniser, the BM25 ranking and its options, which
// clients get search, the listing and the found tools' LRU.
import { describe, expect, it } from 'vitest';
import { namesAFile, stem, tokenize, words } from '../../src/server/tool-search/tokens.js';
import { BASELINE, readOnlyOf, SHIPPED, ToolIndex, type ToolDoc } from '../../src/server/tool-search/rank.js';
import { queryIntent } from '../../src/server/tool-search/intent.js';
import { alwaysMatcher, FoundTools, isClaudeCode, searchListing, searchOn } from '../../src/server/tool-search/exposure.js';

const doc = (name: string, description = '', extra: Partial<ToolDoc> = {}): ToolDoc => ({ name: `s__${name}`, ownName: name, description, server: 's', ...extra });

describe('tokens', () => {
  it('splits snake_case, kebab-case, camelCase and acronyms into lower-case words', () => {
    expect(words('list_directory_with-sizes getHTTPResponse API-post-search')).toEqual(['list', 'directory', 'with', 'sizes', 'get', 'http', 'response', 'api', 'post', 'search']);
  });

  it('drops filler words, single letters and numbers', () => {
    expect(tokenize('Show me the ticket PROJ-123 in a minute')).toEqual(['show', 'ticket', 'proj', 'minute']);
  });

  it('stems the same word in its forms to one', () => {
    expect(new Set(['create', 'created', 'creating', 'creates'].map(stem))).toEqual(new Set(['creat']));
    expect(stem('directories')).toBe('directory');
    expect(stem('files')).toBe(stem('file'));
    expect(stem('searches')).toBe('search');
    expect(stem('status')).toBe('status'); // not "statu"
  });

  it('sees a file named by its name or path, and not in other dotted or slashed words', () => {
    for (const q of ['show me src/index.ts', 'is package.json new?', 'open "a/b.txt"', 'cat /etc/hosts', 'list ./build', 'see ~/notes']) expect(namesAFile(q), q).toBe(true);
    for (const q of ['and/or', 'e.g. this', 'i.e. that', 'version v1.2', 'PROJ-12 is done.', 'CI/CD']) expect(namesAFile(q), q).toBe(false);
  });
});

describe('ranking', () => {
  it('is BM25: a rarer word weighs more, a shorter field with the same count scores higher', () => {
    const ix = new ToolIndex([doc('a', 'alpha common'), doc('b', 'beta common'), doc('c', 'alpha beta common words padding padding')], BASELINE);
    const hits = ix.search('alpha');
    expect(hits.map((h) => h.doc.ownName)).toEqual(['a', 'c']);
    expect(hits[0]!.score).toBeGreaterThan(hits[1]!.score);
    // "common" is in every tool: worth less than "beta", in two.
    const common = ix.search('common')[0]!.score;
    const beta = ix.search('beta')[0]!.score;
    expect(beta).toBeGreaterThan(common);
  });

  it('finds nothing for a query of filler words, and nothing that scores 0', () => {
    const ix = new ToolIndex([doc('read_file', 'Read a file')], SHIPPED);
    expect(ix.search('the of and')).toEqual([]);
    expect(ix.search('zebra')).toEqual([]);
  });

  it('weighs the name above the description with field weights', () => {
    const docs = [doc('delete_page', 'Removes a page. See also archive.'), doc('archive_page', 'Moves a page to the trash; delete it later.')];
    expect(new ToolIndex(docs, { weights: { name: 3, description: 1 } }).search('archive page')[0]!.doc.ownName).toBe('archive_page');
  });

  it('meets a query in other words through the synonyms', () => {
    const docs = [doc('read_file', 'Reads a file'), doc('write_file', 'Writes a file'), doc('delete_file', 'Deletes a file')];
    expect(new ToolIndex(docs, BASELINE).search('erase a file')[0]!.doc.ownName).toBe('read_file'); // "file" only: a tie, catalog order
    expect(new ToolIndex(docs, SHIPPED).search('erase a file')[0]!.doc.ownName).toBe('delete_file');
  });

  it('indexes parameter names and descriptions, and the server name', () => {
    const docs = [
      doc('run', 'Runs it', { inputSchema: { type: 'object', properties: { jql: { type: 'string', description: 'A JQL query' } } } }),
      doc('other', 'Something else', { server: 'jira' }),
    ];
    const ix = new ToolIndex(docs, SHIPPED);
    expect(ix.search('jql')[0]!.doc.ownName).toBe('run');
    expect(ix.search('jira')[0]!.doc.ownName).toBe('other');
  });

  it('takes a file named in the query for the word "file"', () => {
    const docs = [doc('open_nodes', 'Open nodes by their names and show them'), doc('read_text_file', 'Read the contents of a file as text')];
    const ix = new ToolIndex(docs, SHIPPED);
    expect(ix.search('show me notes')[0]!.doc.ownName).toBe('open_nodes');
    expect(ix.search('show me src/notes.ts')[0]!.doc.ownName).toBe('read_text_file');
  });

  it('keeps the catalog order among equal scores, and honours the limit', () => {
    const docs = ['one', 'two', 'three'].map((n) => doc(`${n}_thing`, 'same words'));
    const ix = new ToolIndex(docs, SHIPPED);
    expect(ix.search('same words', 2).map((h) => h.doc.ownName)).toEqual(['one_thing', 'two_thing']);
  });
});

describe('read/write intent', () => {
  it('reads a question or a reading verb as read, a changing verb as write, anything else as nothing', () => {
    expect(queryIntent('who is watching PROJ-8')).toBe('read');
    expect(queryIntent('How much time was spent on it')).toBe('read');
    expect(queryIntent('show me the ticket')).toBe('read');
    expect(queryIntent('please list the spaces')).toBe('read');
    expect(queryIntent('can you delete the page')).toBe('write'); // filler first
    expect(queryIntent('Rename a file')).toBe('write');
    expect(queryIntent('remove the link')).toBe('write');
    expect(queryIntent('older versions of a page')).toBeUndefined();
    expect(queryIntent('the of and')).toBeUndefined();
  });

  it('takes the spec default: annotations without readOnlyHint are not read-only; no annotations: unknown', () => {
    expect(readOnlyOf({ readOnlyHint: true })).toBe(true);
    expect(readOnlyOf({ title: 'Add' } as { readOnlyHint?: boolean })).toBe(false);
    expect(readOnlyOf(undefined)).toBeUndefined();
  });

  it('lowers the tool whose read-only hint contradicts the query, and leaves tools without a hint alone', () => {
    const docs = [doc('add_worklog', 'Add a worklog entry for time spent', { readOnly: false }), doc('get_worklog', 'Get the worklog entries for time spent', { readOnly: true })];
    const ix = new ToolIndex(docs, SHIPPED);
    const plain = new ToolIndex(docs, { ...SHIPPED, intent: 0 });
    expect(plain.search('how much time was spent')[0]!.doc.ownName).toBe('add_worklog'); // catalog order, shorter text
    expect(ix.search('how much time was spent')[0]!.doc.ownName).toBe('get_worklog');
    expect(ix.search('log time spent')[0]!.doc.ownName).toBe(plain.search('log time spent')[0]!.doc.ownName); // no intent: no change
    const unknown = docs.map((d) => ({ ...d, readOnly: undefined }));
    expect(new ToolIndex(unknown, SHIPPED).search('how much time was spent')).toEqual(new ToolIndex(unknown, { ...SHIPPED, intent: 0 }).search('how much time was spent'));
  });
});

describe('exposure', () => {
  const cfg = (mode: 'on' | 'off' | 'auto', budget = 40) => ({ mode, budget, always: [] });

  it('is on in auto past the budget for any client but Claude Code', () => {
    expect(searchOn(cfg('auto'), 41, 'codex-mcp-client')).toBe(true);
    expect(searchOn(cfg('auto'), 41, undefined)).toBe(true);
    expect(searchOn(cfg('auto'), 40, 'codex-mcp-client')).toBe(false);
    expect(searchOn(cfg('auto'), 500, 'claude-code')).toBe(false);
    expect(searchOn(cfg('on'), 1, 'claude-code')).toBe(true);
    expect(searchOn(cfg('off'), 500, 'cursor')).toBe(false);
  });

  it('lists the meta tools, then the always and found child tools in catalog order, then mcpx\'s own', () => {
    const child = ['a__x', 'a__y', 'b__z'].map((name) => ({ name }));
    const out = searchListing(child, [{ name: 'mcpx__status' }], (n) => n === 'b__z', new Set(['a__y'])).map((t) => t.name);
    expect(out).toEqual(['mcpx__find_tools', 'mcpx__call_tool', 'a__y', 'b__z', 'mcpx__status']);
  });

  it("knows Claude Code by its clientInfo.name, and nothing else by it", () => {
    expect(['claude-code', 'Claude-Code'].every(isClaudeCode)).toBe(true);
    expect(['codex-mcp-client', 'gemini-cli-mcp-client', 'cursor-vscode', 'Visual Studio Code', 'claude-ai', 'my-claude-code'].some(isClaudeCode)).toBe(false);
    expect(isClaudeCode(undefined)).toBe(false);
  });

  it('toolSearchAlways: globs of exposed names; none, nothing', () => {
    const always = alwaysMatcher({ ...cfg('on'), always: ['standards__*', 'notion__API-get-*'] });
    expect(['standards__get_standard', 'standards__a.b', 'notion__API-get-user'].filter(always)).toHaveLength(3);
    expect(['standardsx__a', 'a__standards__x', 'notion__API-post-page', 'STANDARDS__a'].filter(always)).toEqual([]);
    expect(alwaysMatcher(cfg('on'))('standards__get_standard')).toBe(false);
  });

  it('keeps at most `cap` found tools, dropping the least recently found first', () => {
    const f = new FoundTools(3);
    expect(f.add(['a', 'b'])).toBe(true);
    expect(f.add(['a'])).toBe(false); // found again: only its recency changes
    expect(f.add(['c', 'd'])).toBe(true); // b is now the least recently found
    expect([...f.set].sort()).toEqual(['a', 'c', 'd']);
  });
});
