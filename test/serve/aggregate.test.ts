// mcpx serve as a real process with real children: aggregation, routing and forwarding both ways.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { EVERYTHING, addToolAndWait, fixture, marker, processesWith, startMcpx, text, waitFor, type Mcpx } from '../helpers/mcpx.js';

const mark = marker();
let mcpx: Mcpx;
const listChanged: number[] = [];
const logs: unknown[] = [];
const updated: string[] = [];

beforeAll(async () => {
  mcpx = await startMcpx(
    {
      mcpServers: {
        alpha: fixture('alpha', { GARBAGE_STDOUT: '1' }, {}, mark),
        beta: fixture('beta', {}, { prefix: '' }, mark),
        gamma: fixture('gamma', {}, { prefix: '', tools: { exclude: ['add_*'] } }, mark),
        crashy: fixture('crashy', { CRASH_AT_START: '1' }, {}, mark),
        everything: { command: process.execPath, args: [EVERYTHING, 'stdio', mark] },
      },
    },
    { capabilities: { elicitation: {}, roots: { listChanged: true } } },
  );
  const c = mcpx.client;
  c.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [{ uri: 'file:///work/project', name: 'project' }] }));
  c.setRequestHandler(ElicitRequestSchema, async (req) => ({ action: 'accept', content: { name: `Ada (asked: ${req.params.message})` } }));
  c.setNotificationHandler(ToolListChangedNotificationSchema, async () => void listChanged.push(Date.now()));
  c.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => void logs.push(n.params));
  c.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => void updated.push(n.params.uri));
});

afterAll(async () => {
  await mcpx?.close();
  await waitFor(() => processesWith(mark).length === 0, 5000, 'children to be gone');
});

describe('mcpx serve aggregates real children', () => {
  it('lists the tools of every child that started, named <prefix>__<name>, colliding names kept reachable', async () => {
    const { tools } = await mcpx.client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toContain('alpha__echo');
    expect(names).toContain('echo'); // beta, prefix ""
    const gammaEcho = names.find((n) => /^echo_[0-9a-f]{4}$/.test(n));
    expect(gammaEcho, 'gamma echo gets a deterministic suffix').toBeDefined();
    expect(names).toContain('everything__echo');
    expect(names.some((n) => n.startsWith('crashy__'))).toBe(false);
    expect(names.every((n) => /^[A-Za-z0-9_-]{1,53}$/.test(n))).toBe(true);
    expect(names.filter((n) => n.startsWith('add_tool')).length).toBe(1); // gamma excludes add_*
    expect(mcpx.stderr()).toMatch(/echo is offered by both beta and gamma/);

    // Definitions pass through unchanged apart from the name.
    const alphaEcho = tools.find((t) => t.name === 'alpha__echo')!;
    expect(alphaEcho._meta).toEqual({ fixture: 'alpha' });
    expect(alphaEcho.annotations).toEqual({ readOnlyHint: true });
    expect(tools.find((t) => t.name === 'alpha__structured')!.outputSchema).toBeDefined();

    // Both colliding tools answer, each from its own child.
    expect(text(await mcpx.client.callTool({ name: 'echo', arguments: { text: 'x' } }))).toBe('beta: x');
    expect(text(await mcpx.client.callTool({ name: gammaEcho!, arguments: { text: 'x' } }))).toBe('gamma: x');
  });

  it('routes a call to each child and passes results through unchanged', async () => {
    const a = await mcpx.client.callTool({ name: 'alpha__echo', arguments: { text: 'hi' } });
    expect(a).toEqual({ content: [{ type: 'text', text: 'alpha: hi' }], _meta: { from: 'alpha' } });
    const s = await mcpx.client.callTool({ name: 'alpha__structured', arguments: {} });
    expect(s.structuredContent).toEqual({ n: 42 });
    const f = await mcpx.client.callTool({ name: 'alpha__fail', arguments: {} });
    expect(f.isError).toBe(true);
    const e = await mcpx.client.callTool({ name: 'everything__get-sum', arguments: { a: 2, b: 3 } });
    expect(text(e)).toMatch(/5/);
  });

  it('skips non-JSON lines a child prints on stdout', async () => {
    expect(mcpx.stderr()).toMatch(/alpha: skipped a line on stdout that is not JSON-RPC/);
    expect(text(await mcpx.client.callTool({ name: 'alpha__echo', arguments: { text: 'still fine' } }))).toBe('alpha: still fine');
  });

  it('keeps serving when a child crashes at start, and says why', async () => {
    expect(mcpx.stderr()).toMatch(/crashy: could not start: exited with code 3/);
    await expect(mcpx.client.callTool({ name: 'crashy__echo', arguments: {} })).rejects.toThrow(/Unknown tool: crashy__echo/);
  });

  it('answers an unknown tool, prompt or resource with -32602 naming it', async () => {
    const err = await mcpx.client.callTool({ name: 'nope__nothing', arguments: {} }).catch((e: McpError) => e);
    expect(err).toBeInstanceOf(McpError);
    expect((err as McpError).code).toBe(-32602);
    expect((err as McpError).message).toMatch(/nope__nothing/);
    await expect(mcpx.client.getPrompt({ name: 'nope' })).rejects.toThrow(/Unknown prompt: nope/);
    // No child lists it, none has a matching template or its scheme, and several offer resources.
    await expect(mcpx.client.readResource({ uri: 'nowhere://x' })).rejects.toThrow(
      /Unknown resource: nowhere:\/\/x: no server lists it, and more than one offers resources: alpha, beta, gamma, everything/,
    );
  });

  it('forwards progress under the upstream token', async () => {
    const seen: { progress: number; total?: number; message?: string }[] = [];
    const r = await mcpx.client.callTool({ name: 'alpha__slow', arguments: { ms: 150, steps: 3 } }, undefined, {
      onprogress: (p) => void seen.push(p),
    });
    expect(text(r)).toMatch(/slow done/);
    expect(seen.map((p) => p.progress)).toEqual([1, 2, 3]);
    expect(seen[2]!.message).toBe('step 3');
  });

  it('cancels the child request when the upstream request is cancelled', async () => {
    const before = Number(text(await mcpx.client.callTool({ name: 'alpha__cancelled', arguments: {} })));
    const ac = new AbortController();
    // Cancelled once the child is surely working on it: at its first progress.
    const call = mcpx.client.callTool({ name: 'alpha__slow', arguments: { ms: 10_000, steps: 100 } }, undefined, {
      signal: ac.signal,
      onprogress: () => ac.abort('user pressed escape'),
    });
    await expect(call).rejects.toThrow();
    await waitFor(
      async () => Number(text(await mcpx.client.callTool({ name: 'alpha__cancelled', arguments: {} }))) === before + 1,
      3000,
      'the child to see the cancellation',
    );
  });

  it('forwards a child elicitation to the client that declared it', async () => {
    const r = await mcpx.client.callTool({ name: 'alpha__ask', arguments: {} });
    expect(text(r)).toBe('alpha: accept {"name":"Ada (asked: Your name?)"}');
  });

  it('forwards a child roots/list to the client', async () => {
    expect(text(await mcpx.client.callTool({ name: 'alpha__roots', arguments: {} }))).toBe('file:///work/project');
  });

  it('re-lists a child after its list_changed and tells the client once', async () => {
    const before = listChanged.length;
    await mcpx.client.callTool({ name: 'alpha__add_tool', arguments: {} });
    await waitFor(() => listChanged.length > before, 3000, 'tools/list_changed');
    const { tools } = await mcpx.client.listTools();
    expect(tools.map((t) => t.name)).toContain('alpha__added_1');
    expect(text(await mcpx.client.callTool({ name: 'alpha__added_1', arguments: {} }))).toBe('alpha: added_1');
    await addToolAndWait(mcpx, 'alpha', () => listChanged.length);
    expect(listChanged.length).toBe(before + 2);
  });

  it('merges resources and templates, routes reads and subscriptions by owner', async () => {
    const { resources } = await mcpx.client.listResources();
    const uris = resources.map((r) => r.uri);
    expect(uris).toContain('fixture://alpha/readme');
    expect(uris).toContain('fixture://beta/readme');
    expect(uris.filter((u) => u === 'fixture://shared/doc').length).toBe(1);
    expect(mcpx.stderr()).toMatch(/fixture:\/\/shared\/doc is offered by both alpha and beta/);
    const read = await mcpx.client.readResource({ uri: 'fixture://beta/readme' });
    expect(read.contents[0]).toMatchObject({ text: 'beta says: fixture://beta/readme' });
    const shared = await mcpx.client.readResource({ uri: 'fixture://shared/doc' });
    expect(shared.contents[0]).toMatchObject({ text: 'alpha says: fixture://shared/doc' });
    const { resourceTemplates } = await mcpx.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toContain('fixture://gamma/items/{id}');
    const item = await mcpx.client.readResource({ uri: 'fixture://gamma/items/7' });
    expect(item.contents[0]).toMatchObject({ text: 'gamma says: fixture://gamma/items/7' });

    await mcpx.client.subscribeResource({ uri: 'fixture://beta/readme' });
    await waitFor(() => updated.includes('fixture://beta/readme'), 3000, 'resources/updated');
  });

  it('routes prompts', async () => {
    const { prompts } = await mcpx.client.listPrompts();
    expect(prompts.map((p) => p.name)).toContain('alpha__greet');
    const p = await mcpx.client.getPrompt({ name: 'alpha__greet', arguments: { who: 'Ada' } });
    expect(p.messages[0]!.content).toEqual({ type: 'text', text: 'alpha greets Ada' });
  });

  it('passes logging/setLevel on and tags child log messages with the server name', async () => {
    await mcpx.client.setLoggingLevel('info');
    await mcpx.client.callTool({ name: 'alpha__log', arguments: {} });
    await waitFor(() => logs.some((l) => (l as { logger?: string }).logger === 'alpha'), 3000, 'a log message from alpha');
    expect(logs.find((l) => (l as { logger?: string }).logger === 'alpha')).toMatchObject({ level: 'info', data: 'alpha log line' });
  });

  it('answers a call with a clear error when the child exits mid-call, and keeps serving', async () => {
    const r = await mcpx.client.callTool({ name: 'crash', arguments: {} });
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^beta is unavailable: the server exited during the call/);
    expect(text(await mcpx.client.callTool({ name: 'alpha__echo', arguments: { text: 'alive' } }))).toBe('alpha: alive');
  });
});
