// Tool search and the output budget over `mcpx serve --http` as real processes: a 2025 session of a
// client other than Claude Code, behind more than toolBudget child tools, is offered the meta tools;
// what mcpx__find_tools finds joins that session's list (list_changed to it, not to another session);
// mcpx__call_tool answers what a direct call answers; the list_changed goes on the search call's own
// stream (a session without a GET stream hears it too). A stateless 2026-07-28 request is decided on the
// clientInfo in its _meta. The pages cut by the output budget answer only their session and token.
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { fixture, marker, tempDir, waitFor } from '../helpers/mcpx.js';
import { clientsClosedAfterEach, httpServers, type HttpMcpx } from '../helpers/http.js';

const mark = marker();
const { start } = httpServers(afterEach);
const ALICE = 'alice-token-71c4e09a2f';
const BOB = 'bob-token-0d93b6a15e';
const clients = clientsClosedAfterEach(afterEach);

/** Three fixture children of 19 tools each (57 > the default budget of 40); c cuts answers past 1,000 tokens. */
const team = () => ({
  http: { tokens: { alice: ALICE, bob: BOB } },
  mcpServers: {
    a: fixture('a', { BYTES_TOOLS: '1' }, {}, mark),
    b: fixture('b', { BYTES_TOOLS: '1' }, {}, mark),
    c: fixture('c', { BYTES_TOOLS: '1' }, { maxOutputTokens: 1000 }, mark),
  },
  toolSearchAlways: ['a__echo'],
});
const SEARCH_LIST = ['mcpx__find_tools', 'mcpx__call_tool', 'a__echo', 'mcpx__status', 'mcpx__more'];
const ALL = 57 + 2; // every child tool, mcpx__status and mcpx__more

type Block = { type: string; text?: string };
type Result = { content: Block[]; structuredContent?: Record<string, any>; isError?: boolean };
const names = (tools: { name: string }[]) => tools.map((t) => t.name);
const handleOf = (r: Result) => /"handle": "([^"]+)"/.exec(r.content.at(-1)!.text!)?.[1];
const lines = Array.from({ length: 400 }, (_, i) => `line ${String(i).padStart(4, '0')}: ${'word '.repeat(5)}`).join('\n'); // ~14 KB, over c's 4,000 characters

/** A 2025-era SDK client (1.x) on its own session, with this token and clientInfo.name; `changed` counts its tools/list_changed. */
async function session(s: HttpMcpx, token: string, name: string) {
  const client = new Client({ name, version: '1.0.0' }, { capabilities: {} });
  const counts = { changed: 0 };
  client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void counts.changed++);
  await client.connect(new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  clients.push(client);
  const list = async () => names((await client.listTools()).tools);
  const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })) as unknown as Result;
  return { client, counts, list, call };
}

/** Every child listed: the list of a Claude Code session is whole. */
async function settled(s: HttpMcpx) {
  const cc = await session(s, ALICE, 'claude-code');
  await waitFor(async () => (await cc.list()).length === ALL, 20_000, 'every child listed');
  await cc.client.close();
}

/** One stateless 2026-07-28 request to /mcp, with this token and clientInfo.name in its _meta; its JSON-RPC answer. */
async function modern(s: HttpMcpx, token: string, client: string, id: number, method: string, params: Record<string, unknown> = {}) {
  const _meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientInfo': { name: client, version: '1' },
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  const res = await fetch(s.url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...(typeof params.name === 'string' && { 'mcp-name': params.name }),
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta } }),
  });
  const type = res.headers.get('content-type') ?? '';
  const body = type.includes('text/event-stream')
    ? (await res.text()).split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)) as { id?: unknown }).find((m) => m.id === id)
    : await res.json();
  return body as { result?: Record<string, any>; error?: { message: string } };
}

describe('tool search over serve --http', () => {
  it('a 2025 session of Cursor: the search list; found tools join that session only; call_tool answers as a direct call', async () => {
    // Served from the catalogs a first run stored: no list_changed at start (the children list the same
    // tools), so each session hears only what its own search changed.
    const dir = tempDir();
    const first = await start(team(), { dir });
    await settled(first);
    first.proc.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
    const s = await start(team(), { dir });
    await settled(s);
    const one = await session(s, ALICE, 'cursor');
    const two = await session(s, BOB, 'cursor');
    expect(await one.list()).toEqual(SEARCH_LIST);
    expect(await two.list()).toEqual(SEARCH_LIST);

    const found = await one.call('mcpx__find_tools', { query: 'sha256 hash of an environment variable', limit: 3 });
    const hits = (found.structuredContent!.tools as { name: string }[]).map((t) => t.name);
    expect(hits[0]).toMatch(/^[abc]__env_hash$/);
    await waitFor(() => one.counts.changed > 0, 10_000, 'tools/list_changed on the session that searched');
    const listed = await one.list();
    expect(listed.slice(0, 3)).toEqual(SEARCH_LIST.slice(0, 3));
    for (const h of hits) expect(listed).toContain(h);

    // The other session searches for something else: it hears its own list_changed (one), and its list
    // has what it found and not what the first session found.
    const write = await two.call('mcpx__find_tools', { query: 'write a value', limit: 1 });
    const own = (write.structuredContent!.tools as { name: string }[]).map((t) => t.name);
    await waitFor(() => two.counts.changed > 0, 10_000, 'tools/list_changed on the second session');
    const second = await two.list();
    for (const h of hits.filter((h) => !own.includes(h))) expect(second).not.toContain(h);
    expect(own[0]).toMatch(/^[abc]__write$/);
    expect(second).toEqual(expect.arrayContaining(own));
    // Each heard its own change only, and once.
    expect(two.counts.changed).toBe(1);
    expect(one.counts.changed).toBe(1);

    const through = await one.call('mcpx__call_tool', { name: 'b__write', arguments: { value: 'x' } });
    const direct = await one.call('b__write', { value: 'x' });
    expect(through).toEqual(direct);
    expect(through.content[0]!.text).toBe('b: wrote x');
    const hashed = await one.call('mcpx__call_tool', { name: hits[0]!, arguments: { name: 'PATH' } });
    expect(hashed).toEqual(await one.call(hits[0]!, { name: 'PATH' }));
  });

  it('a 2025 session that opens no GET stream hears its list_changed on the stream of its mcpx__find_tools call', async () => {
    const s = await start(team());
    await settled(s);
    const post = (body: unknown, sid?: string) =>
      fetch(s.url, {
        method: 'POST',
        headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...(sid && { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' }) },
        body: JSON.stringify(body),
      });
    const init = await post({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'cursor', version: '1' } } });
    const sid = init.headers.get('mcp-session-id')!;
    await init.text();
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, sid)).status).toBe(202);
    const res = await post({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'mcpx__find_tools', arguments: { query: 'sha256 hash of an environment variable' } } }, sid);
    const messages = (await res.text()).split('\n').filter((l) => l.startsWith('data:')).map((l) => JSON.parse(l.slice(5)) as { id?: number; method?: string });
    expect(messages.map((m) => m.method ?? `answer ${m.id}`)).toEqual(['notifications/tools/list_changed', 'answer 2']);
  });

  it('a 2025 session of Claude Code gets the whole list', async () => {
    const s = await start(team());
    await settled(s);
    const cc = await session(s, ALICE, 'claude-code');
    expect(await cc.list()).toHaveLength(ALL);
  });

  it('a stateless 2026-07-28 request: the search list for Cursor, the whole list for Claude Code; find and call_tool work', async () => {
    const s = await start(team());
    await settled(s);
    const cursor = await modern(s, ALICE, 'cursor', 1, 'tools/list');
    expect(names(cursor.result!.tools)).toEqual(SEARCH_LIST);
    const cc = await modern(s, ALICE, 'claude-code', 2, 'tools/list');
    expect(cc.result!.tools).toHaveLength(ALL);

    const found = await modern(s, ALICE, 'cursor', 3, 'tools/call', { name: 'mcpx__find_tools', arguments: { query: 'write a value', limit: 3 } });
    const hits = (found.result!.structuredContent.tools as { name: string }[]).map((t) => t.name);
    expect(hits[0]).toMatch(/^[abc]__write$/);
    const through = await modern(s, ALICE, 'cursor', 4, 'tools/call', { name: 'mcpx__call_tool', arguments: { name: hits[0], arguments: { value: 'y' } } });
    const direct = await modern(s, ALICE, 'cursor', 5, 'tools/call', { name: hits[0], arguments: { value: 'y' } });
    expect(through.result).toEqual(direct.result);
    // No session: the list stays the meta tools (README).
    expect(names((await modern(s, ALICE, 'cursor', 6, 'tools/list')).result!.tools)).toEqual(SEARCH_LIST);
  });
});

describe('the output budget over serve --http', () => {
  it("a 2025 session's pages answer that session only: not another token's session, not another session of the same token", async () => {
    const s = await start(team());
    const alice = await session(s, ALICE, 'cursor');
    const cut = await waitFor(async () => {
      const r = await alice.call('c__mirror', { result: { content: [{ type: 'text', text: lines }] } });
      return !r.isError && r;
    }, 20_000, 'c to answer');
    const handle = handleOf(cut)!;
    expect(handle).toBeTruthy();

    const bob = await session(s, BOB, 'cursor');
    const stolen = await bob.call('mcpx__more', { handle, page: 2 });
    expect(stolen.isError).toBe(true);
    expect(stolen.content[0]!.text).toContain(`no result with handle ${handle} is kept for this session`);
    const aliceAgain = await session(s, ALICE, 'cursor');
    expect((await aliceAgain.call('mcpx__more', { handle, page: 2 })).isError).toBe(true);
    // Over 2026-07-28 with either token: not the session's either.
    for (const [id, token] of [[1, BOB], [2, ALICE]] as const) {
      const r = await modern(s, token, 'cursor', id, 'tools/call', { name: 'mcpx__more', arguments: { handle, page: 2 } });
      expect(r.result!.isError).toBe(true);
    }

    const page = await alice.call('mcpx__more', { handle, page: 2 });
    expect(page.isError).toBeUndefined();
    expect(lines).toContain(page.content[0]!.text!);
  });

  it("a 2026-07-28 caller's pages answer its token only", async () => {
    const s = await start(team());
    const mirror = { name: 'c__mirror', arguments: { result: { content: [{ type: 'text', text: lines }] } } };
    const cut = await waitFor(async () => {
      const r = await modern(s, ALICE, 'cursor', 1, 'tools/call', mirror);
      return r.result && !r.result.isError && r;
    }, 20_000, 'c to answer');
    const handle = handleOf(cut.result as Result)!;
    expect(handle).toBeTruthy();

    const stolen = await modern(s, BOB, 'cursor', 2, 'tools/call', { name: 'mcpx__more', arguments: { handle, page: 2 } });
    expect(stolen.result!.isError).toBe(true);
    expect(stolen.result!.content[0].text).toContain(`no result with handle ${handle}`);
    const bobSession = await session(s, BOB, 'cursor');
    expect((await bobSession.call('mcpx__more', { handle, page: 2 })).isError).toBe(true);

    const page = await modern(s, ALICE, 'cursor', 3, 'tools/call', { name: 'mcpx__more', arguments: { handle, page: 2 } });
    expect(page.result!.isError).toBeUndefined();
    expect(lines).toContain(page.result!.content[0].text);
  });
});
