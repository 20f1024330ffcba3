// Tool search (server/tool-search/): a client other than Claude Code, behind a merged list longer than
// toolBudget, is offered mcpx's meta tools (and the toolSearchAlways ones) instead of every child tool;
// mcpx__find_tools finds the right one, mcpx__call_tool calls it through the same route as a direct
// call, found tools join that client's list with list_changed; Claude Code gets the whole list. Every
// way tools/list is answered is covered: the route of forwarded requests (stdio, HTTP 2025), the SDK
// Server (HTTP 2026), and the first list answered from the stored catalogs before the runtime loads
// (stored-list.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { fixture, marker, rawSessions, runCli, startMcpx, tempDir, waitFor, writeConfig, type Mcpx } from '../helpers/mcpx.js';

const mark = marker();
const serveRaw = rawSessions(afterEach, mark);
const open: Mcpx[] = [];
afterEach(async () => {
  for (const m of open.splice(0)) await m.close();
});

/** Three fixture children of 19 tools each (57 > the default budget of 40). */
const servers = () => ({
  a: fixture('a', { BYTES_TOOLS: '1' }, {}, mark),
  b: fixture('b', { BYTES_TOOLS: '1' }, {}, mark),
  c: fixture('c', { BYTES_TOOLS: '1' }, {}, mark),
});
const config = (extra: Record<string, unknown> = {}) => ({ mcpServers: servers(), toolSearchAlways: ['a__echo'], ...extra });
const META = ['mcpx__find_tools', 'mcpx__call_tool'];
const text = (r: unknown) => ((r as { content: { text: string }[] }).content[0]!.text);
/** A raw session's answer to request `id`, waiting as long as children starting on a loaded machine may take. */
const answer = (s: ReturnType<typeof serveRaw>, id: number) =>
  waitFor(() => s.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id?: unknown }).find((m) => m.id === id), 20_000, `answer ${id}`);

async function start(clientName: string, cfg = config(), dir?: string) {
  const m = await startMcpx(cfg, { clientName, dir });
  open.push(m);
  return m;
}

describe('tool search', () => {
  it('offers a non-Claude client only the meta tools, the always ones, mcpx__status and mcpx__more', async () => {
    const m = await start('codex-mcp-client');
    const { tools } = await m.client.listTools();
    expect(tools.map((t) => t.name)).toEqual([...META, 'a__echo', 'mcpx__status', 'mcpx__more']);
    const find = tools.find((t) => t.name === 'mcpx__find_tools')!;
    expect(find.annotations?.readOnlyHint).toBe(true); // Codex refuses a tool without it under approval_policy "never"
    expect(find.description).toContain('mcpx__call_tool');
    expect(tools.find((t) => t.name === 'mcpx__call_tool')!.annotations?.readOnlyHint).toBeUndefined(); // it runs writes too
  });

  it('gives Claude Code the whole list in auto, and everyone the whole list with toolSearch off', async () => {
    const cc = await start('claude-code');
    const all = (await cc.client.listTools()).tools.map((t) => t.name);
    expect(all).toHaveLength(57 + 2);
    expect(all).not.toContain('mcpx__find_tools');
    const off = await start('codex-mcp-client', config({ toolSearch: 'off' }));
    expect((await off.client.listTools()).tools).toHaveLength(59);
  });

  it('turns on for Claude Code too with "on", and stays off under the budget in auto', async () => {
    const on = await start('claude-code', config({ toolSearch: 'on' }));
    expect((await on.client.listTools()).tools.map((t) => t.name)).toEqual([...META, 'a__echo', 'mcpx__status', 'mcpx__more']);
    const under = await start('codex-mcp-client', config({ toolBudget: 100 }));
    expect((await under.client.listTools()).tools).toHaveLength(59);
  });

  it('takes `serve --tool-search` over the config: on for Claude Code where the file says off; a bad value is a usage error', async () => {
    const m = await startMcpx(config({ toolSearch: 'off' }), { clientName: 'claude-code', args: ['--tool-search', 'on'] });
    open.push(m);
    expect((await m.client.listTools()).tools.map((t) => t.name)).toEqual([...META, 'a__echo', 'mcpx__status', 'mcpx__more']);
    const off = await startMcpx(config({ toolSearch: 'on' }), { clientName: 'codex-mcp-client', args: ['--tool-search', 'off'] });
    open.push(off);
    expect((await off.client.listTools()).tools).toHaveLength(59);
    const bad = await runCli(['serve', '--config', m.configFile, '--tool-search', 'maybe']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--tool-search must be on, off or auto, got "maybe"');
  });

  it('rebuilds the index when a catalog changes: a tool added later is found', async () => {
    const m = await start('codex-mcp-client');
    const find = async () =>
      ((await m.client.callTool({ name: 'mcpx__find_tools', arguments: { query: 'added later', limit: 20 } })) as unknown as { structuredContent: { tools: { name: string }[] } }).structuredContent.tools.map((t) => t.name);
    expect(await find()).not.toContain('b__added_1');
    await m.client.callTool({ name: 'mcpx__call_tool', arguments: { name: 'b__add_tool', arguments: {} } });
    await waitFor(async () => (await find()).includes('b__added_1'), 10_000, 'b__added_1 found after b listed it');
  });

  it('finds the right tool, as structuredContent and the same JSON as text; found tools join the list with list_changed', async () => {
    const m = await start('codex-mcp-client');
    let changed = 0;
    m.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void changed++);
    await m.client.listTools();
    const r = (await m.client.callTool({ name: 'mcpx__find_tools', arguments: { query: 'sha256 hash of an environment variable', limit: 3 } })) as unknown as {
      structuredContent: { tools: { name: string; description: string; inputSchema: unknown }[] };
    };
    const found = r.structuredContent.tools;
    expect(found.length).toBeGreaterThan(0);
    expect(found.length).toBeLessThanOrEqual(3);
    expect(found[0]!.name).toMatch(/^[abc]__env_hash$/);
    expect(found[0]!.inputSchema).toEqual({ type: 'object', properties: { name: { type: 'string' } } });
    expect(JSON.parse(text(r))).toEqual(r.structuredContent);
    await waitFor(() => changed > 0, 5000, 'tools/list_changed after find');
    const names = (await m.client.listTools()).tools.map((t) => t.name);
    for (const f of found) expect(names).toContain(f.name);
    expect(names).toContain('mcpx__find_tools');
  });

  it('calls a tool through mcpx__call_tool with the result of a direct call, through the same pipeline (audit)', async () => {
    const m = await start('codex-mcp-client');
    const through = await m.client.callTool({ name: 'mcpx__call_tool', arguments: { name: 'b__write', arguments: { value: 'x' } } });
    const direct = await m.client.callTool({ name: 'b__write', arguments: { value: 'x' } });
    expect(through).toEqual(direct);
    expect(text(through)).toBe('b: wrote x');
    // Both reached the child (a write: never cached), and the audit holds both as calls of b's own tool.
    expect(text(await m.client.callTool({ name: 'b__calls', arguments: {} }))).toMatch(/\b2\b/);
    const env = { MCPX_CACHE_DIR: join(m.dir, 'cache'), MCPX_STATE_DIR: join(m.dir, 'state') };
    const writes = await waitFor(async () => {
      const r = await runCli(['audit', '--json', '--config', m.configFile, '--server', 'b'], { env });
      const rows = (JSON.parse(r.stdout) as { records: { name: string; outcome: string }[] }).records.filter((x) => x.name === 'write');
      return rows.length === 2 && rows;
    }, 10_000, 'two audited writes');
    expect(writes.map((w) => w.outcome)).toEqual(['ok', 'ok']);
  });

  it('answers an unknown name with a tool error naming the closest tools', async () => {
    const m = await start('codex-mcp-client');
    const r = (await m.client.callTool({ name: 'mcpx__call_tool', arguments: { name: 'a__env_hsh', arguments: {} } })) as { isError?: boolean };
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/Unknown tool: a__env_hsh\. Closest: .*__env_hash/);
    expect(text(r)).toContain('mcpx__find_tools');
  });

  it('holds on the route and on the first list answered from the stored catalogs (2025 raw client)', async () => {
    const dir = tempDir();
    const file = writeConfig(config(), dir);
    // A first run stores the catalogs.
    const first = await start('claude-code', undefined, dir);
    await waitFor(async () => (await first.client.listTools()).tools.length === 59, 15_000, 'every child listed');
    await first.close();
    open.splice(0);

    for (const [client, expected] of [['codex-mcp-client', 5], ['claude-code', 59]] as const) {
      const s = serveRaw(file, dir);
      s.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: client, version: '1' } } });
      s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      s.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      const early = (await answer(s, 2)) as { result: { tools: { name: string }[] } };
      expect(early.result.tools).toHaveLength(expected);
      // The same client again, answered by the route: the same list.
      s.send({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
      const later = (await answer(s, 3)) as { result: { tools: { name: string }[] } };
      expect(later.result.tools.map((t) => t.name)).toEqual(early.result.tools.map((t) => t.name));
      s.proc.stdin.end();
      await s.exited;
    }
    const log = readFileSync(join(dir, 'state', 'mcpx.log'), 'utf8');
    expect(log).toContain('answered from the stored catalogs before the SDK was loaded');
  });

  it('holds for a 2026-07-28 client over stdio, deciding on the clientInfo in its envelope', async () => {
    const dir = tempDir();
    const file = writeConfig(config(), dir);
    const s = serveRaw(file, dir);
    const env = (name: string) => ({ 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name, version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} });
    s.send({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: env('gemini-cli') } });
    await answer(s, 1);
    s.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'mcpx__find_tools', arguments: { query: 'echo the text back' }, _meta: env('gemini-cli') } });
    const found = (await answer(s, 2)) as { result: { structuredContent: { tools: { name: string }[] } } };
    expect(found.result.structuredContent.tools[0]!.name).toMatch(/__echo$/);
    for (const [id, client, n] of [[3, 'gemini-cli', 5], [4, 'claude-code', 59]] as const) {
      s.send({ jsonrpc: '2.0', id, method: 'tools/list', params: { _meta: env(client) } });
      const list = (await answer(s, id)) as { result: { tools: { name: string }[] } };
      // gemini-cli: the meta tools, a__echo (always), the found tools, mcpx__status, mcpx__more.
      if (client === 'claude-code') expect(list.result.tools).toHaveLength(n);
      else expect(list.result.tools.slice(0, 2).map((t) => t.name)).toEqual(META);
    }
  });
});
