import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ResourceListChangedNotificationSchema, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { callTool, cleanup, copyOfTemplates, runMcpx, startStandards, tempDir, textOf, waitFor } from './helpers.js';

afterEach(cleanup);

const idsOf = async (client: Awaited<ReturnType<typeof startStandards>>['client']) =>
  (await client.listResources()).resources.map((r) => r.name).sort();

describe('mcpx standards: start-up errors', () => {
  it('a missing --dir exits 2 with one line on stderr naming the folder, no stack trace', async () => {
    const missing = join(tempDir(), 'no-such-folder');
    const r = await runMcpx(['standards', '--dir', missing]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`mcpx: standards folder ${missing} does not exist\n`);
  });

  it('no --dir at all is a usage error too', async () => {
    const r = await runMcpx(['standards']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('mcpx: standards needs at least one --dir <folder> holding the standards\n');
  });
});

describe('mcpx standards: bad files', () => {
  it('skips unreadable files, broken front matter and bad rules with a warning naming the file; serves the rest', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'style'));
    mkdirSync(join(dir, 'elsewhere'));
    writeFileSync(join(dir, 'style/good.md'), 'Intro line.\n\n## Keep functions short\n\nOne job each.\n');
    writeFileSync(join(dir, 'style/bad-yaml.md'), '---\ntitle: [unclosed\ntags: x\n---\n# Bad\n');
    writeFileSync(join(dir, 'style/unclosed.md'), '---\ntitle: Never closed\n\n# Body\n');
    writeFileSync(join(dir, 'style/bad-field.md'), '---\ntags: {a: 1}\n---\n# Tags must be strings\n');
    writeFileSync(join(dir, 'style/rules.yaml'), 'rules:\n  - id: ok-rule\n    title: A fine rule\n  - just a string\n  - title: Also fine\n');
    writeFileSync(join(dir, 'style/broken.yaml'), 'rules: [\n');
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'style/is-a-folder.md')); // a .md that cannot be read as a file
    writeFileSync(join(dir, 'style/huge.md'), '# Huge\n' + 'x'.repeat(1024 * 1024 + 10));

    const server = await startStandards([dir]);
    expect(await idsOf(server.client)).toEqual(['ok-rule', 'style/good', 'style/rules/also-fine']);
    // Title from the first heading when the front matter has none; category from the folder.
    const list = await callTool(server.client, 'list_standards', {});
    expect(textOf(list)).toContain('`style/good` Keep functions short');

    const stderr = server.stderr();
    const warning = (file: string, reason: RegExp) => expect(stderr).toMatch(new RegExp(`^mcpx warn: ${join(dir, file)}: skipped.*${reason.source}`, 'm'));
    warning('style/bad-yaml.md', /invalid front matter/);
    warning('style/unclosed.md', /front matter is not closed/);
    warning('style/bad-field.md', /`tags` must be a string/);
    warning('style/rules.yaml', /rule 2 is not a mapping/);
    warning('style/broken.yaml', /invalid YAML/);
    warning('style/is-a-folder.md', /cannot read it \(EISDIR\)/);
    warning('style/huge.md', /larger than 1024 KiB/);
    expect(stderr.match(/^mcpx warn:/gm)).toHaveLength(7);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('does not follow a symlink out of its folder: a linked file or folder elsewhere is skipped with a warning', async () => {
    const dir = tempDir();
    const outside = tempDir();
    writeFileSync(join(outside, 'secret.md'), '# Private key notes\n');
    mkdirSync(join(outside, 'folder'));
    writeFileSync(join(outside, 'folder/more.md'), '# More private\n');
    writeFileSync(join(dir, 'real.md'), '# Real\n');
    symlinkSync(join(outside, 'secret.md'), join(dir, 'leak.md'));
    symlinkSync(join(outside, 'folder'), join(dir, 'leaky-folder'));
    symlinkSync(join(dir, 'real.md'), join(dir, 'alias.md')); // inside: kept, as before

    const server = await startStandards([dir]);
    expect(await idsOf(server.client)).toEqual(['alias', 'real']);
    expect(textOf(await callTool(server.client, 'search_standards', { query: 'private' }))).not.toContain('Private');
    for (const link of ['leak.md', 'leaky-folder']) {
      expect(server.stderr()).toContain(`mcpx warn: ${join(dir, link)}: skipped: a symlink that leads outside its standards folder\n`);
    }
  });

  it('the first --dir wins an id that two folders share, with a warning', async () => {
    const first = tempDir();
    const second = tempDir();
    for (const [dir, word] of [[first, 'first'], [second, 'second']] as const) {
      mkdirSync(join(dir, 'api'));
      writeFileSync(join(dir, 'api/errors.md'), `# Errors (${word})\n`);
    }
    writeFileSync(join(second, 'extra.md'), '# Extra\n');
    const server = await startStandards([first, second]);
    expect(await idsOf(server.client)).toEqual(['api/errors', 'extra']);
    expect(textOf(await callTool(server.client, 'get_standard', { id: 'api/errors' }))).toContain('# Errors (first)');
    expect(server.stderr()).toContain(`${join(second, 'api/errors.md')}: skipped: id "api/errors" is already used by ${join(first, 'api/errors.md')}`);
  });
});

describe('mcpx standards: watching the folders', () => {
  it('sends resources/list_changed when files are added or removed, and the catalog follows', async () => {
    const dir = copyOfTemplates();
    const { client } = await startStandards([dir]);
    let listChanged = 0;
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => void listChanged++);
    const before = await idsOf(client);

    writeFileSync(join(dir, 'api/graphql.md'), '---\ntags: [graphql]\napplies_to: ["**/*.graphql"]\n---\n# GraphQL schema design\n\nNullable by default.\n');
    await waitFor('list_changed after adding a file', async () => listChanged, (n) => n >= 1);
    expect(await idsOf(client)).toEqual([...before, 'api/graphql'].sort());
    const hit = await callTool(client, 'search_standards', { query: 'graphql nullable' });
    expect((hit.structuredContent as { results: { id: string }[] }).results[0]?.id).toBe('api/graphql');
    const forSchema = await callTool(client, 'standards_for_file', { path: 'schema/users.graphql' });
    expect((forSchema.structuredContent as { standards: { id: string }[] }).standards.map((s) => s.id)).toEqual(['api/graphql']);

    const seen = listChanged;
    rmSync(join(dir, 'testing'), { recursive: true });
    await waitFor('list_changed after removing a folder', async () => listChanged, (n) => n > seen);
    expect(await idsOf(client)).toEqual(before.filter((id) => id !== 'testing/unit-tests').concat('api/graphql').sort());
    const gone = await callTool(client, 'search_standards', { query: 'flaky tests' });
    expect((gone.structuredContent as { results: { id: string }[] }).results.map((r) => r.id)).not.toContain('testing/unit-tests');
  });

  it('sends resources/updated for a subscribed URI when its file changes, and serves what was saved last', async () => {
    // How a burst becomes one reload is test/standards/watch.test.ts (fake clock). Here, with real files on a
    // machine that may be loaded: a burst is announced, the last save is what is served, a later save is
    // announced again, and an unsubscribed URI or an unsubscribed client hears nothing.
    const dir = copyOfTemplates();
    const { client } = await startStandards([dir]);
    const updated: string[] = [];
    let listChanged = 0;
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void updated.push(n.params.uri));
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => void listChanged++);
    await client.subscribeResource({ uri: 'standards://security/secure-coding' });
    // The first load runs after initialize; change the file only once the client has seen version 1.
    expect((await client.readResource({ uri: 'standards://security/secure-coding' })).contents[0]).toBeDefined();

    const file = join(dir, 'security/secure-coding.md');
    // An editor-like burst of saves, each written whole and renamed into place, as editors save.
    const save = (text: string) => {
      writeFileSync(`${file}.tmp`, text);
      renameSync(`${file}.tmp`, file);
    };
    for (let i = 1; i <= 5; i++) save(`---\ntitle: Secure coding v${i}\n---\n# Secure coding\n\nRotate credentials every ${i * 30} days.\n`);
    // An unsubscribed document changing too: no notification for it.
    writeFileSync(join(dir, 'api/http-api-design.md'), '# HTTP API design\n\nShorter now.\n');

    const read = async () => ((await client.readResource({ uri: 'standards://security/secure-coding' })).contents[0] as { text: string }).text;
    await waitFor('resources/updated', async () => updated.length, (n) => n >= 1);
    await waitFor('the last save served', read, (t) => t.includes('Rotate credentials every 150 days.'));
    const afterBurst = updated.length;
    console.log(`a burst of 5 saves: ${afterBurst} resources/updated`);
    // One more save, on its own: announced again.
    save('# Secure coding\n\nv5b\n');
    await waitFor('resources/updated for the single save', async () => updated.length, (n) => n > afterBurst);
    await waitFor('the single save served', read, (t) => t.includes('v5b'));
    expect(new Set(updated)).toEqual(new Set(['standards://security/secure-coding']));
    expect(listChanged).toBe(0); // nothing was added or removed

    // Unsubscribed: changes are still served, but not announced.
    const announced = updated.length;
    await client.unsubscribeResource({ uri: 'standards://security/secure-coding' });
    writeFileSync(file, '# Secure coding\n\nv6\n');
    await waitFor('the reload', async () => textOf(await callTool(client, 'get_standard', { id: 'security/secure-coding' })), (t) => t.includes('v6'));
    expect(updated).toHaveLength(announced);
  });
});
