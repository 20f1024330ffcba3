import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TEMPLATES, callTool, cleanup, isAlive, startStandards, tempDir, textOf } from './helpers.js';

interface Summary {
  id: string;
  uri: string;
  title: string;
  category: string;
  tags: string[];
  severity?: string;
}
type SearchResult = Summary & { score: number; snippet: string };

afterEach(cleanup);

async function search(args: Record<string, unknown>) {
  const { client } = await startStandards([TEMPLATES]);
  const result = await callTool(client, 'search_standards', args);
  return { result, results: (result.structuredContent as { results: SearchResult[] } | undefined)?.results ?? [] };
}

describe('mcpx standards: tools over the sample standards', () => {
  it('declares four read-only tools with JSON Schema inputs, and the resources capability', async () => {
    const { client } = await startStandards([TEMPLATES]);
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['get_standard', 'list_standards', 'search_standards', 'standards_for_file']);
    for (const tool of tools) {
      expect(tool.annotations?.readOnlyHint).toBe(true);
      expect(tool.inputSchema.type).toBe('object');
    }
    const searchTool = tools.find((t) => t.name === 'search_standards')!;
    expect(searchTool.inputSchema.required).toEqual(['query']);
    expect(Object.keys(searchTool.inputSchema.properties ?? {})).toEqual(['query', 'category', 'tags', 'path', 'limit']);
    expect(client.getServerCapabilities()?.resources).toEqual({ subscribe: true, listChanged: true });
  });

  it('list_standards: categories (front matter, else the folder) with id, title and tags', async () => {
    const { client } = await startStandards([TEMPLATES]);
    const result = await callTool(client, 'list_standards', {});
    expect(result.isError).toBeFalsy();
    const { categories } = result.structuredContent as { categories: { name: string; documents: Summary[] }[] };
    const byName = Object.fromEntries(categories.map((c) => [c.name, c.documents.map((d) => d.id)]));
    expect(Object.keys(byName).sort()).toEqual(['api', 'decisions', 'security', 'testing', 'typescript']);
    expect(byName.testing).toEqual(['testing/unit-tests']); // no category in its front matter: the folder
    expect(byName.decisions).toEqual(['adr/0004-validate-input-at-the-boundary-with-zod']);
    // The YAML rule set: one document per rule, id = the rule's id.
    expect(byName.typescript).toEqual(['ts-exhaustive-switch', 'ts-no-any', 'ts-no-console-in-libraries', 'ts-no-floating-promises', 'typescript/style']);
    const style = categories.flatMap((c) => c.documents).find((d) => d.id === 'typescript/style')!;
    expect(style).toMatchObject({ title: 'TypeScript style', uri: 'standards://typescript/style', tags: ['style', 'naming', 'types', 'modules'] });
    expect(textOf(result)).toContain('`security/secure-coding` Secure coding');

    const only = await callTool(client, 'list_standards', { category: 'api' });
    expect((only.structuredContent as { categories: unknown[] }).categories).toHaveLength(1);
  });

  it('get_standard: full text by id or URI, every document of a category, a helpful error otherwise', async () => {
    const { client } = await startStandards([TEMPLATES]);
    const byId = textOf(await callTool(client, 'get_standard', { id: 'security/secure-coding' }));
    expect(byId).toContain('# Secure coding');
    expect(byId).toContain('use parameterised queries'); // body text, not a summary
    expect(byId).toContain('severity: must');
    expect(byId).not.toMatch(/^applies_to:/m); // front matter is not repeated raw

    expect(textOf(await callTool(client, 'get_standard', { id: 'standards://ts-no-any' }))).toContain('# No explicit any');

    const category = textOf(await callTool(client, 'get_standard', { category: 'typescript' }));
    for (const title of ['# TypeScript style', '# No floating promises', '# No explicit any']) expect(category).toContain(title);

    const missing = await callTool(client, 'get_standard', { id: 'style' });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toMatch(/^No standard has the id "style"\. Did you mean "typescript\/style"\?/);

    const neither = await callTool(client, 'get_standard', {});
    expect(neither.isError).toBe(true);
    expect(textOf(neither)).toMatch(/Pass `id`/);
  });

  it.each([
    ['sql injection', 'security/secure-coding'],
    ['floating promise unhandled rejection', 'ts-no-floating-promises'],
    ['flaky tests sleep', 'testing/unit-tests'],
    ['pagination cursor', 'api/http-api-design'],
    ['zod schema validation', 'adr/0004-validate-input-at-the-boundary-with-zod'],
    ['naming booleans', 'typescript/style'],
    ['explicit any', 'ts-no-any'],
    ['secrets', 'security/secure-coding'],
  ])('search_standards ranks the obviously relevant standard first: %s', async (query, expected) => {
    const { result, results } = await search({ query });
    expect(result.isError).toBeFalsy();
    expect(results[0]?.id).toBe(expected);
    const scores = results.map((r) => r.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(textOf(result)).toMatch(new RegExp(`^1\\. \`${expected}\``));
  });

  it('search_standards: snippets mark the matched words; limit, category, tags and path filter', async () => {
    const { client } = await startStandards([TEMPLATES]);
    const call = async (args: Record<string, unknown>) =>
      ((await callTool(client, 'search_standards', args)).structuredContent as { results: SearchResult[] }).results;

    const [first] = await call({ query: 'sql injection', limit: 1 });
    expect(first?.snippet).toMatch(/«SQL» «injection»/);
    expect(await call({ query: 'types', limit: 2 })).toHaveLength(2);

    const inTypescript = await call({ query: 'errors', category: 'typescript', limit: 50 });
    expect(inTypescript.length).toBeGreaterThan(0);
    expect(inTypescript.every((r) => r.category === 'typescript')).toBe(true);

    const tagged = await call({ query: 'errors', tags: ['API'], limit: 50 });
    expect(tagged.length).toBeGreaterThan(0);
    expect(tagged.every((r) => r.tags.includes('api'))).toBe(true);

    // A test file: standards that apply only to src/api/** are left out, the testing guide stays.
    const forTest = (await call({ query: 'errors tests validation', path: 'test/users.test.ts', limit: 50 })).map((r) => r.id);
    expect(forTest).toContain('testing/unit-tests');
    expect(forTest).not.toContain('api/http-api-design');
    expect(forTest).not.toContain('adr/0004-validate-input-at-the-boundary-with-zod');
  });

  it('search_standards weighs a word in the title above the same word in the body', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'ops'));
    writeFileSync(join(dir, 'ops/caching.md'), '# Caching policy\n\nKeep entries for an hour; shorter for data that changes often.\n');
    writeFileSync(
      join(dir, 'ops/notes.md'),
      '# Operations notes\n\nThe caching layer sits in front of the database. When caching goes wrong, check the caching dashboards first.\n',
    );
    const { client } = await startStandards([dir]);
    const { results } = (await callTool(client, 'search_standards', { query: 'caching' })).structuredContent as { results: SearchResult[] };
    expect(results.map((r) => r.id)).toEqual(['ops/caching', 'ops/notes']);
  });

  it('search_standards: empty, blank, huge and wordless queries are tool errors with a sentence', async () => {
    const { client } = await startStandards([TEMPLATES]);
    for (const [query, message] of [
      ['', /^The query is empty/],
      ['   ', /^The query is empty/],
      ['x'.repeat(1001), /^The query is 1001 characters long; keep it under 1000/],
      ['"(*)" -- :', /has no words to search for/],
    ] as const) {
      const result = await callTool(client, 'search_standards', { query });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(message);
    }
    const badLimit = await callTool(client, 'search_standards', { query: 'tests', limit: 0 });
    expect(badLimit.isError).toBe(true);
    expect(textOf(badLimit)).toMatch(/`limit` must be a whole number from 1 to 50/);
  });

  it('search_standards: FTS5 syntax in a query is plain text, never a failure', async () => {
    const { client } = await startStandards([TEMPLATES]);
    for (const query of ['"unbalanced', 'title:secrets', 'NEAR(sql injection)', 'sql AND OR NOT', 'inject*', '^sql', 'a.b-c', "don't", '{title body}: x']) {
      const result = await callTool(client, 'search_standards', { query });
      expect(result.isError, query).toBeFalsy();
    }
    const r = await callTool(client, 'search_standards', { query: 'title:secrets' });
    expect((r.structuredContent as { results: SearchResult[] }).results[0]?.id).toBe('security/secure-coding');
  });

  it('standards_for_file: applies_to globs matched with picomatch, whatever the path looks like', async () => {
    const { client } = await startStandards([TEMPLATES]);
    const ids = async (path: string) =>
      ((await callTool(client, 'standards_for_file', { path })).structuredContent as { standards: (Summary & { matched: string })[] }).standards.map(
        (s) => s.id,
      );

    const api = await ids('src/api/users.ts');
    expect(api).toEqual(
      expect.arrayContaining(['api/http-api-design', 'adr/0004-validate-input-at-the-boundary-with-zod', 'security/secure-coding', 'typescript/style', 'ts-no-any']),
    );
    expect(api).not.toContain('testing/unit-tests');
    // Absolute, ./-prefixed and Windows spellings of the same file match the same standards.
    expect(await ids('/home/dev/app/src/api/users.ts')).toEqual(api);
    expect(await ids('./src/api/users.ts')).toEqual(api);
    expect(await ids('src\\api\\users.ts')).toEqual(api);

    const testFile = await ids('test/api/users.test.ts');
    expect(testFile).toContain('testing/unit-tests');
    expect(testFile).not.toContain('ts-no-console-in-libraries'); // src/**/*.ts only
    expect(await ids('openapi/billing.yaml')).toEqual(['api/http-api-design']);
    expect(await ids('Dockerfile')).toEqual(['security/secure-coding']);

    const none = await callTool(client, 'standards_for_file', { path: 'docs/notes.txt' });
    expect((none.structuredContent as { standards: unknown[] }).standards).toEqual([]);
    expect(textOf(none)).toMatch(/^No standard's applies_to matches docs\/notes\.txt/);

    const matched = (await callTool(client, 'standards_for_file', { path: 'src/db/query.sql' })).structuredContent as {
      standards: { id: string; matched: string }[];
    };
    expect(matched.standards).toEqual([expect.objectContaining({ id: 'security/secure-coding', matched: 'src/**' })]);
  });

  it('resources: standards://<id> for every document, read as text/markdown', async () => {
    const { client } = await startStandards([TEMPLATES]);
    const { resources } = await client.listResources();
    expect(resources).toHaveLength(9);
    expect(resources.every((r) => r.mimeType === 'text/markdown' && r.uri === `standards://${r.name}`)).toBe(true);
    const read = await client.readResource({ uri: 'standards://api/http-api-design' });
    expect(read.contents[0]).toMatchObject({ uri: 'standards://api/http-api-design', mimeType: 'text/markdown' });
    expect((read.contents[0] as { text: string }).text).toMatch(/^# HTTP API design\n/);
    await expect(client.readResource({ uri: 'standards://nope' })).rejects.toThrow(/No standard at standards:\/\/nope/);
  });

  it('prompt review_with_standards: the standards for the file plus search hits for the focus', async () => {
    const { client } = await startStandards([TEMPLATES]);
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(['review_with_standards']);
    expect(prompts[0]!.arguments?.map((a) => [a.name, a.required])).toEqual([['path', true], ['focus', false]]);

    const prompt = await client.getPrompt({ name: 'review_with_standards', arguments: { path: 'src/api/users.ts', focus: 'flaky tests' } });
    const text = (prompt.messages[0]!.content as { text: string }).text;
    expect(text).toMatch(/^Review `src\/api\/users.ts` against the team standards below\. Pay particular attention to: flaky tests\./);
    expect(text).toContain('# HTTP API design'); // applies_to src/api/**
    expect(text).toContain('# Secure coding'); // applies_to src/**
    expect(text).toContain('## Standards about "flaky tests"');
    expect(text).toContain('# Testing guidelines'); // from the focus search only
    expect(text.indexOf('# Testing guidelines')).toBeGreaterThan(text.indexOf('## Standards about "flaky tests"'));

    const plain = await client.getPrompt({ name: 'review_with_standards', arguments: { path: 'notes.txt' } });
    expect((plain.messages[0]!.content as { text: string }).text).toMatch(/No written standard applies to `notes.txt`/);
  });

  it('leaves no process behind once the client closes', async () => {
    const { client, pid } = await startStandards([TEMPLATES]);
    expect(isAlive(pid)).toBe(true);
    await client.close();
    expect(isAlive(pid)).toBe(false);
  });
});
