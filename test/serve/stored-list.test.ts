// A 2025 client's first tools/list answered from the stored catalogs before the SDK and the
// runtime are loaded (server/stored-list.ts): the bytes the normal path writes for the same state, taken
// only when every child's catalog is stored under its current fingerprint and no tool waits for approval;
// a child whose live tools differ from the stored ones still makes mcpx send list_changed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CHILD, fixture, marker, rawSessions, startMcpx, tempDir, waitFor, writeConfig } from '../helpers/mcpx.js';

const mark = marker();
const serveRaw = rawSessions(afterEach, mark);
const EARLY = 'answered from the stored catalogs before the SDK was loaded';

type Msg = { id?: unknown; method?: string; result?: { tools: { name: string }[] } };

/** Writes the config, runs mcpx once until every server's tools are listed (so their catalogs are stored). */
async function stored(servers: Record<string, unknown>, expected: string[], dir = tempDir()) {
  const file = writeConfig({ mcpServers: servers }, dir);
  const m = await startMcpx(undefined, { dir });
  await waitFor(async () => {
    const names = (await m.client.listTools()).tools.map((t) => t.name);
    return expected.every((n) => names.includes(n));
  }, 15_000, `${expected.join(', ')} listed`);
  await m.close();
  return { dir, file };
}

/** initialize, initialized and a tools/list (id 2) written at once, as a client does; the session for more. */
function session(dir: string, file: string) {
  const s = serveRaw(file, dir);
  const lines = () => s.stdout().split('\n').filter(Boolean);
  const messages = () => lines().map((l) => JSON.parse(l) as Msg);
  const list = async (id: number) => {
    await s.response(id);
    const line = lines().find((l) => (JSON.parse(l) as Msg).id === id)!;
    return { line, names: (JSON.parse(line) as Msg).result!.tools.map((t) => t.name) };
  };
  s.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'early-list', version: '1' } } });
  s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  s.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
  return { s, lines, messages, list, log: () => readFileSync(join(dir, 'state', 'mcpx.log'), 'utf8') };
}

/** The line without its id, to compare the answers to two requests. */
const withoutId = (line: string, id: number) => {
  expect(line.endsWith(`,"id":${id}}`)).toBe(true);
  return line.slice(0, -`,"id":${id}}`.length);
};

describe('the first tools/list answered from the stored catalogs', () => {
  it('is byte for byte the normal list: prefixes, include/exclude, a shortened name, mcpx__status and mcpx__more last', async () => {
    const long = 'a_prefix_long_enough_that_its_tools_need_shortening_x';
    // Each with args of its own, so that each is told apart in the log lines below.
    const servers = {
      alpha: fixture('alpha', {}, { args: [CHILD, mark, 'alpha'], tools: { include: ['e*', 's*'], exclude: ['slow'] } }),
      beta: fixture('beta', {}, { args: [CHILD, mark, 'beta'], prefix: '' }),
      gamma: fixture('gamma', {}, { args: [CHILD, mark, 'gamma'], prefix: long, tools: { include: ['echo'] } }),
    };
    const { dir, file } = await stored(servers, ['alpha__echo', 'echo']);
    const c = session(dir, file);
    const early = await c.list(2);
    await waitFor(() => c.log().includes(`serve: tools/list (id 2) ${EARLY}`), 5000, 'the early answer in the log');
    expect(early.names.filter((n) => n.startsWith('alpha__'))).toEqual(['alpha__echo', 'alpha__search', 'alpha__env_hash', 'alpha__structured']);
    expect(early.names).toContain('echo'); // beta, unprefixed
    const shortened = early.names.filter((n) => n.startsWith(long.slice(0, 20)));
    expect(shortened).toHaveLength(1);
    expect(shortened[0]!.length).toBeLessThanOrEqual(53);
    expect(early.names.slice(-2)).toEqual(['mcpx__status', 'mcpx__more']);
    // The runtime's own answer, once every child is up (a call to each) and has listed what was stored.
    for (const [i, name] of ['alpha__echo', 'echo', shortened[0]!].entries()) c.s.send({ jsonrpc: '2.0', id: 10 + i, method: 'tools/call', params: { name, arguments: { text: 'up' } } });
    for (const id of [10, 11, 12]) await waitFor(() => c.s.response(id), 15_000, `call ${id}`);
    c.s.send({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
    const normal = await c.list(3);
    expect(withoutId(early.line, 2)).toBe(withoutId(normal.line, 3));
    expect(c.lines().filter((l) => (JSON.parse(l) as Msg).id === 2)).toHaveLength(1); // the SDK never saw it
  }, 60_000);

  it('is left to the runtime when a child has no catalog stored under its current command', async () => {
    const alpha = (...more: string[]) => fixture('alpha', {}, { args: [CHILD, mark, 'alpha', ...more] });
    const { dir } = await stored({ alpha: alpha() }, ['alpha__echo']);
    // A child never seen: the runtime waits for it to list, as before.
    const added = writeConfig({ mcpServers: { alpha: alpha(), beta: fixture('beta', {}, { args: [CHILD, mark, 'beta'] }) } }, dir);
    const c1 = session(dir, added);
    expect((await c1.list(2)).names).toContain('beta__echo');
    await waitFor(() => c1.log().includes('serve: the first tools/list is left to the runtime: no catalog of beta is stored for its current command'), 5000, 'why, in the log');
    // A changed command line: what is stored is another child's.
    const changed = writeConfig({ mcpServers: { alpha: alpha('--changed') } }, dir);
    const c2 = session(dir, changed);
    expect((await c2.list(2)).names).toContain('alpha__echo');
    await waitFor(() => c2.log().split('no catalog of alpha is stored').length === 2, 5000, 'why, in the log');
    expect(c2.log()).not.toContain(EARLY);
  }, 60_000);

  it('is left to the runtime while a pinned tool waits for approval', async () => {
    const config = (version: string) => ({ alpha: fixture('alpha', { DESC_VERSION: version }, { args: [CHILD, mark, 'alpha'], pinTools: true }) });
    const { dir } = await stored(config('1'), ['alpha__echo']); // echo approved as first seen
    // Version 2 of echo: recorded as waiting (and stored as the catalog) once the child has listed.
    const { file } = await stored(config('2'), ['alpha__search'], dir);
    const c0 = session(dir, file);
    await waitFor(() => c0.log().includes('alpha: tools withheld until `mcpx approve alpha`: echo changed'), 15_000, 'echo withheld');
    c0.s.proc.stdin.end();
    await c0.s.exited;
    const c = session(dir, file);
    const names = (await c.list(2)).names;
    expect(names).toContain('alpha__search');
    expect(names).not.toContain('alpha__echo');
    await waitFor(() => c.log().includes('serve: the first tools/list is left to the runtime: tools of alpha wait for `mcpx approve`'), 5000, 'why, in the log');
  }, 60_000);

  it('is followed by list_changed when a child lists other tools than stored, and the next list is current', async () => {
    const alpha = (env: Record<string, string>) => ({ alpha: fixture('alpha', env, { args: [CHILD, mark, 'alpha'] }) });
    const { dir } = await stored(alpha({}), ['alpha__echo']);
    const file = writeConfig({ mcpServers: alpha({ EXTRA_TOOL: '1' }) }, dir); // same name and command line: same stored catalog
    const c = session(dir, file);
    expect((await c.list(2)).names).not.toContain('alpha__extra');
    await waitFor(() => c.log().includes(`serve: tools/list (id 2) ${EARLY}`), 5000, 'the early answer in the log');
    await waitFor(() => c.messages().some((m) => m.method === 'notifications/tools/list_changed'), 15_000, 'list_changed');
    c.s.send({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
    expect((await c.list(3)).names).toContain('alpha__extra');
  }, 60_000);

  it('keeps the catalogs of two servers with the same command line apart (one package, two workspaces told apart by env)', async () => {
    // Same command and args; only env differs: before catalogs were keyed by name too, the last one to
    // list overwrote the other's, and each showed the other's tools until it started.
    const same = { args: [CHILD, mark, 'shared'] };
    const servers = { one: fixture('one', {}, same), two: fixture('two', { BYTES_TOOLS: '1' }, same) };
    const { dir, file } = await stored(servers, ['one__echo', 'two__echo', 'two__unicode']);
    const c = session(dir, file);
    const names = (await c.list(2)).names;
    await waitFor(() => c.log().includes(`serve: tools/list (id 2) ${EARLY}`), 5000, 'the early answer in the log');
    expect(names).toContain('two__unicode');
    expect(names).not.toContain('one__unicode');
  }, 60_000);
});
