// pinTools: the store (real SQLite) and the whole path with real processes: a fixture child whose
// description changes between starts is pinned, withheld, refused, shown by approve --list and doctor,
// approved from the shell while serve runs, and served again.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { openDatabase } from '../../src/cache/db.js';
import { definitionHash, PinStore } from '../../src/cache/pins.js';
import { jsonDifferences } from '../../src/util/jsondiff.js';
import { captureLog, tempDir as cacheDir } from '../cache/helpers.js';
import { fixture, marker, MCPX, mcpxSessions, processesWith, tempDir, text, waitFor } from '../helpers/mcpx.js';

const tool = (name: string, description: string, properties: Record<string, unknown> = { text: { type: 'string' } }) =>
  ({ name, description, inputSchema: { type: 'object', properties } });

describe('PinStore', () => {
  it('pins a server at first sight, records a changed or new tool once, and approve accepts it', () => {
    const cdb = openDatabase(cacheDir());
    const pins = new PinStore(cdb);
    expect(pins.observe('docs', [tool('echo', 'v1'), tool('search', 'find')], 1)).toEqual([]);
    expect(pins.observe('docs', [tool('echo', 'v1'), tool('search', 'find')], 2)).toEqual([]);

    const changed = pins.observe('docs', [tool('echo', 'v2'), tool('search', 'find'), tool('extra', 'new one')], 3);
    expect(changed.map((w) => [w.tool, w.change])).toEqual([['echo', 'changed'], ['extra', 'new']]);
    expect(changed[0]!.approved?.description).toBe('v1');
    pins.observe('docs', [tool('echo', 'v2'), tool('extra', 'new one')], 4); // the same again: seen_at kept
    expect(pins.waiting(['docs']).map((w) => [w.tool, w.seenAt])).toEqual([['echo', 3], ['extra', 3]]);

    const before = pins.generation();
    expect(pins.approve('docs', 'echo', 5).map((w) => w.tool)).toEqual(['echo']);
    expect(pins.generation()).toBe(before + 1);
    expect(pins.observe('docs', [tool('echo', 'v2'), tool('extra', 'new one')], 6).map((w) => w.tool)).toEqual(['extra']);
    expect(pins.approve('docs', undefined, 7).map((w) => w.tool)).toEqual(['extra']);
    expect(pins.approve('docs')).toEqual([]);
    expect(pins.observe('docs', [tool('echo', 'v2'), tool('extra', 'new one')])).toEqual([]);
    cdb.close();
  });

  it('the hash ignores key order; a schema change counts; a read-only database compares without recording', () => {
    expect(definitionHash({ description: 'd', inputSchema: { a: 1, b: 2 } })).toBe(definitionHash({ inputSchema: { b: 2, a: 1 }, description: 'd' }));
    const dir = cacheDir();
    const cdb = openDatabase(dir);
    new PinStore(cdb).observe('s', [tool('t', 'same')]);
    const readOnly = new PinStore({ ...cdb, writable: false }, { log: captureLog().log });
    const w = readOnly.observe('s', [tool('t', 'same', { text: { type: 'number' } })]);
    expect(w.map((x) => x.change)).toEqual(['changed']);
    expect(readOnly.waiting(['s'])).toEqual([]); // not recorded
    expect(readOnly.observe('new-server', [tool('t', 'x')])).toEqual([]); // cannot pin: nothing withheld
    cdb.close();
  });

  it('jsonDifferences names what changed in a schema', () => {
    expect(jsonDifferences(
      { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
      { type: 'object', properties: { text: { type: 'number' }, loud: { type: 'boolean' } }, required: ['text', 'loud'] },
    )).toEqual(['properties.loud: added {"type":"boolean"}', 'properties.text.type: "string" → "number"', 'required: ["text"] → ["text","loud"]']);
    expect(jsonDifferences({ a: 1 }, { a: 1 })).toEqual([]);
  });
});

const sessions = mcpxSessions(afterEach);

describe('mcpx serve with pinTools', () => {
  // About ten real processes one after the other (serve twice, the CLI eight times): more than the default 30 s under load.
  it('withholds a changed and a new tool, refuses calls to them, and serves them again after mcpx approve', { timeout: 120_000 }, async () => {
    const mark = marker();
    const dir = tempDir();
    // Catalogs are stored by command line: each child its own.
    const child = (name: string, env: Record<string, string>, extra: Record<string, unknown> = {}) => {
      const f = fixture(name, env, extra, mark);
      return { ...f, args: [...f.args, name] };
    };
    const config = (version: string, more: Record<string, string> = {}) => ({
      defaults: { pinTools: true },
      mcpServers: {
        docs: child('docs', { DESC_VERSION: version, ...more }),
        loose: child('loose', { DESC_VERSION: version }, { pinTools: false }),
      },
    });
    const env = { MCPX_CACHE_DIR: join(dir, 'cache'), MCPX_STATE_DIR: join(dir, 'state'), MCPX_CONFIG: '', NO_COLOR: '1' };
    const cli = (...args: string[]) => execa('node', [MCPX, ...args, '--config', join(dir, 'mcpx.json')], { reject: false, env, cwd: dir });
    const names = async (m: { client: { listTools(): Promise<{ tools: { name: string; description?: string }[] }> } }) => (await m.client.listTools()).tools;

    // 1. First start: the tools are seen, and pinned as they are.
    const first = await sessions.start(config('1'), { dir });
    expect((await names(first)).map((t) => t.name)).toContain('docs__echo');
    await sessions.stop(first);

    // 2. The child's echo description changed, and it has a new tool: both withheld once it has listed them.
    const second = await sessions.start(config('2', { EXTRA_TOOL: '1' }), { dir });
    let changes = 0;
    second.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void changes++);
    const listed = await waitFor(async () => {
      const tools = await names(second);
      const looseListed = tools.find((t) => t.name === 'loose__echo')?.description?.includes('Version 2.');
      return !tools.some((t) => t.name === 'docs__echo') && looseListed && tools;
    }, 20_000, 'both children to have listed: docs__echo withheld, loose__echo served as it changed');
    expect(listed.map((t) => t.name)).not.toContain('docs__extra');
    expect(listed.map((t) => t.name)).toContain('docs__search'); // unchanged: served
    // loose (pinTools off) serves its changed echo as is: the waitFor above checked it.

    const refused = await second.client.callTool({ name: 'docs__echo', arguments: { text: 'hi' } });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toContain('docs__echo is withheld by mcpx: its description or input schema changed');
    expect(text(refused)).toContain('`mcpx approve docs echo`');
    // Through tool search's mcpx__call_tool: the same refusal, and mcpx__find_tools does not offer it.
    expect(await second.client.callTool({ name: 'mcpx__call_tool', arguments: { name: 'docs__echo', arguments: { text: 'hi' } } })).toEqual(refused);
    const found = (await second.client.callTool({ name: 'mcpx__find_tools', arguments: { query: 'echo the text back', limit: 20 } })) as { structuredContent?: { tools: { name: string }[] } };
    expect(found.structuredContent!.tools.map((t) => t.name)).not.toContain('docs__echo');
    const refusedNew = await second.client.callTool({ name: 'docs__extra', arguments: {} });
    expect(text(refusedNew)).toContain('it is a new tool of docs');

    const status = JSON.parse(((await second.client.readResource({ uri: 'mcpx://status' })).contents[0] as { text: string }).text);
    expect(status.servers.docs.waitingForApproval).toEqual([
      { tool: 'echo', change: 'changed', approve: 'mcpx approve docs echo' },
      { tool: 'extra', change: 'new', approve: 'mcpx approve docs extra' },
    ]);
    expect(status.servers.loose.waitingForApproval).toEqual([]);

    // 3. The shell: what waits, with the difference; doctor says so; mcpx call is refused too.
    const list = await cli('approve', '--list', '--json');
    expect(list.exitCode, list.stderr).toBe(0);
    const waiting = (JSON.parse(list.stdout) as { waiting: { server: string; tool: string; change: string; description: { before?: string; after?: string }; inputSchema: { changed: boolean } }[] }).waiting;
    expect(waiting.map((w) => `${w.server}/${w.tool} ${w.change}`)).toEqual(['docs/echo changed', 'docs/extra new', 'loose/echo changed']);
    expect(waiting[0]!.description).toMatchObject({ before: 'Echo the text back (docs)\nSecond line. Version 1.', after: 'Echo the text back (docs)\nSecond line. Version 2.' });
    expect(waiting[0]!.inputSchema.changed).toBe(false);
    const human = await cli('approve', '--list');
    expect(human.stdout).toContain('docs/echo  changed');
    expect(human.stdout).toMatch(/^ {4}- Echo the text back \(docs\)\n {6}Second line\. Version 1\.$/m);
    expect(human.stdout).toMatch(/^ {4}\+ Echo the text back \(docs\)\n {6}Second line\. Version 2\.$/m);
    expect(human.stdout).toContain('input schema: unchanged');

    const doctor = await cli('doctor', '--json');
    expect(doctor.exitCode).toBe(1);
    const checks = (JSON.parse(doctor.stdout) as { servers: { name: string; checks: { verdict: string; message: string }[] }[] }).servers;
    expect(checks.find((s) => s.name === 'docs')!.checks).toContainEqual(expect.objectContaining({ verdict: 'warn', message: 'withheld until approved (pinTools): echo changed, extra new' }));
    expect(checks.find((s) => s.name === 'loose')!.checks).toContainEqual(expect.objectContaining({ verdict: 'info', message: expect.stringContaining('pinTools off: served as is): echo changed') }));

    const call = await cli('call', 'docs__extra');
    expect(call.exitCode).toBe(1);
    expect(call.stdout).toContain('`mcpx approve docs extra`');

    // 4. Approve one tool from the shell: the running serve announces it and serves it, as the child now has it.
    expect((await cli('approve', 'nope')).exitCode).toBe(2);
    const seenChanges = changes;
    const ok = await cli('approve', 'docs', 'echo');
    expect(ok.exitCode, ok.stderr).toBe(0);
    expect(ok.stdout).toContain('approved docs/echo (changed)');
    await waitFor(() => changes > seenChanges, 15_000, 'tools/list_changed after the approval');
    const after = await names(second);
    expect(after.find((t) => t.name === 'docs__echo')?.description).toContain('Version 2.');
    expect(after.map((t) => t.name)).not.toContain('docs__extra');
    expect(text(await second.client.callTool({ name: 'docs__echo', arguments: { text: 'hi' } }))).toBe('docs: hi');

    // 5. The rest of the server; then nothing waits any more.
    expect((await cli('approve', 'docs')).exitCode).toBe(0);
    expect(text(await second.client.callTool({ name: 'docs__extra', arguments: {} }))).toBe('docs: extra'); // checked on the call itself
    const again = await cli('approve', 'docs');
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toContain('nothing waits for approval: docs');

    await sessions.stop(second);
    await waitFor(() => processesWith(mark).length === 0, 5000, 'children to be gone');
  });
});
