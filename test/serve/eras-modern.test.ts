// The fourth pair: a 2026-07-28 client through mcpx to a 2026-07-28-only child
// (test/fixtures/modern-child.mjs), over raw JSON-RPC lines so that every field on the wire is checked;
// and the "done when": a 2025 child and a 2026 child behind one mcpx, reached by a 2025 client
// and by a 2026 client alike. Real processes; none may be left.
import { afterEach, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { fixture, markedSessions, rawServe, tempDir, text, waitFor, writeConfig } from '../helpers/mcpx.js';
import { answer, call, messages, modern, request } from '../helpers/modern.js';

const { sessions, mark } = markedSessions(afterEach);

type Session = ReturnType<typeof rawServe>;
// Registered after markedSessions: after-each hooks run last-registered first, so mcpx is closed
// before the marker scan.
const open: Session[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) {
    s.proc.stdin.end();
    await s.exited;
  }
});

/** `mcpx serve` with these servers, spoken to line by line by a 2026-07-28 client. */
function serve(servers: Record<string, unknown>): Session {
  const dir = tempDir();
  const s = rawServe(writeConfig({ mcpServers: servers }, dir), dir);
  open.push(s);
  return s;
}
const names = (r: { tools: { name: string }[] }) => r.tools.map((t) => t.name);

describe('a 2026-07-28 client through mcpx to a 2026-07-28-only child', () => {
  it.each(['auto', '2026-07-28'])('protocol %s: discovers, lists with the prefix, calls, gets progress, cancels, hits the cache', async (protocol) => {
    const s = serve({ nova: modern('nova', {}, { protocol, cache: { ttl: '1h' } }, mark()) });
    const discover = (await call(s, 1, 'server/discover')).result;
    expect(discover.supportedVersions).toContain('2026-07-28');
    expect(discover.instructions).toContain('nova (tools nova__*)');

    const tools = (await call(s, 2, 'tools/list')).result;
    expect(names(tools)).toEqual(expect.arrayContaining(['nova__echo', 'nova__slow', 'nova__ask', 'mcpx__status']));
    expect(tools.tools.find((t: { name: string }) => t.name === 'nova__echo')).toMatchObject({ title: 'Echo', annotations: { readOnlyHint: true }, _meta: { fixture: 'nova' } });
    expect(tools.resultType).toBe('complete');

    const echo = (await call(s, 3, 'tools/call', { name: 'nova__echo', arguments: { text: 'hi' } })).result;
    expect(echo).toMatchObject({ content: [{ type: 'text', text: 'nova: hi' }], _meta: { from: 'nova' }, resultType: 'complete' });
    const structured = (await call(s, 4, 'tools/call', { name: 'nova__structured', arguments: {} })).result;
    expect(structured.structuredContent).toEqual({ n: 42 });

    const slow = (await call(s, 5, 'tools/call', { name: 'nova__slow', arguments: { steps: 3, ms: 150 }, _meta: { progressToken: 'p1' } })).result;
    expect(slow.content[0].text).toContain('slow done');
    const progress = messages(s).filter((m) => m.method === 'notifications/progress' && m.params?.progressToken === 'p1');
    expect(progress.map((m) => m.params!.progress)).toEqual([1, 2, 3]);

    const cancelled = async (id: string) => Number((await call(s, id, 'tools/call', { name: 'nova__cancelled', arguments: {} })).result.content[0].text);
    const before = await cancelled('c0');
    request(s, 6, 'tools/call', { name: 'nova__slow', arguments: { steps: 100, ms: 30_000 }, _meta: { progressToken: 'p6' } });
    await waitFor(() => messages(s).find((m) => m.params?.progressToken === 'p6'), 10_000, 'the slow call to reach the child');
    s.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 6, reason: 'user' } });
    await waitFor(async () => (await cancelled(`c-${Date.now()}`)) === before + 1, 10_000, 'the child to see the cancel');

    const first = (await call(s, 7, 'tools/call', { name: 'nova__search', arguments: { query: 'q' } })).result;
    const second = (await call(s, 8, 'tools/call', { name: 'nova__search', arguments: { query: 'q' } })).result;
    expect(first._meta?.['mcpx/cache']?.status).not.toBe('hit');
    expect(second.content).toEqual(first.content);
    expect(second._meta['mcpx/cache']).toMatchObject({ status: 'hit', server: 'nova' });
  });

  it("hears the child's list_changed through subscriptions/listen, and lists the new tool", async () => {
    const s = serve({ nova: modern('nova', {}, {}, mark()) });
    request(s, 'L', 'subscriptions/listen', { notifications: { toolsListChanged: true } });
    await waitFor(() => messages(s).find((m) => m.method === 'notifications/subscriptions/acknowledged'), 10_000, 'the listen ack');
    expect(names((await call(s, 1, 'tools/list')).result)).not.toContain('nova__added_1');
    await call(s, 2, 'tools/call', { name: 'nova__add_tool', arguments: {} });
    const changed = await waitFor(() => messages(s).find((m) => m.method === 'notifications/tools/list_changed'), 10_000, 'list_changed');
    expect(changed.params?._meta?.['io.modelcontextprotocol/subscriptionId']).toBeDefined();
    expect(names((await call(s, 3, 'tools/list')).result)).toContain('nova__added_1');
  });

  it("passes the child's input_required (elicitation) to the client, and the retry back to the child", async () => {
    const s = serve({ nova: modern('nova', {}, {}, mark()) });
    const first = (await call(s, 1, 'tools/call', { name: 'nova__ask', arguments: {} })).result;
    // mcpx answers the child's input_required through its own client side and asks its client anew:
    // one question per round, under mcpx's key and requestState (the child's stay with mcpx).
    expect(first).toMatchObject({ resultType: 'input_required', requestState: expect.any(String) });
    expect(first.inputRequests).toEqual({ input: { method: 'elicitation/create', params: { mode: 'form', message: 'Your name?', requestedSchema: { type: 'object', properties: { name: { type: 'string' } } } } } });

    const retry = { name: 'nova__ask', arguments: {}, inputResponses: { input: { action: 'accept', content: { name: 'Grace' } } }, requestState: first.requestState };
    const done = (await call(s, 2, 'tools/call', retry)).result;
    expect(done).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'nova: accept {"name":"Grace"}' }] });
    // Single use: the same state again is refused.
    expect((await call(s, 3, 'tools/call', retry)).error).toMatchObject({ code: -32602, message: expect.stringContaining('requestState') });
  });

  it('passes a URL-mode elicitation the same way, to a client that declares URL mode', async () => {
    const s = serve({ nova: modern('nova', {}, {}, mark()) });
    const caps = { elicitation: { form: {}, url: {} } };
    const first = (await call(s, 1, 'tools/call', { name: 'nova__ask_url', arguments: {} }, caps)).result;
    expect(first).toMatchObject({ resultType: 'input_required', inputRequests: { input: { method: 'elicitation/create', params: { mode: 'url', message: 'Sign in', url: 'https://example.com/nova/signin' } } } });
    const retry = { name: 'nova__ask_url', arguments: {}, inputResponses: { input: { action: 'accept' } }, requestState: first.requestState };
    expect((await call(s, 2, 'tools/call', retry, caps)).result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'nova: signin accept' }] });
  });
});

describe('a 2025 child and a 2026 child behind one mcpx', () => {
  const both = (m: string) => ({ old: fixture('old', {}, {}, m), nova: modern('nova', {}, {}, m) });
  const expected = ['old__echo', 'old__slow', 'nova__echo', 'nova__slow'];

  it('a 2025 client sees the tools of both, calls one of each, and gets their notifications', async () => {
    const m = await sessions.start({ mcpServers: both(mark()) });
    const changed: number[] = [];
    m.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void changed.push(Date.now()));
    expect((await m.client.listTools()).tools.map((t) => t.name)).toEqual(expect.arrayContaining(expected));
    for (const prefix of ['old', 'nova']) {
      expect(text(await m.client.callTool({ name: `${prefix}__echo`, arguments: { text: 'x' } }))).toBe(`${prefix}: x`);
      const seen: number[] = [];
      await m.client.callTool({ name: `${prefix}__slow`, arguments: { ms: 60, steps: 2 } }, undefined, { onprogress: (p) => void seen.push(p.progress) });
      expect(seen, `progress from ${prefix}`).toEqual([1, 2]);
      const before = changed.length;
      await m.client.callTool({ name: `${prefix}__add_tool`, arguments: {} });
      await waitFor(() => changed.length > before, 10_000, `list_changed from ${prefix}`);
      expect((await m.client.listTools()).tools.map((t) => t.name)).toContain(`${prefix}__added_1`);
    }
  });

  it('a 2026-07-28 client sees the tools of both, calls one of each, and gets their notifications', async () => {
    const s = serve(both(mark()));
    request(s, 'L', 'subscriptions/listen', { notifications: { toolsListChanged: true } });
    await waitFor(() => messages(s).find((m) => m.method === 'notifications/subscriptions/acknowledged'), 10_000, 'the listen ack');
    expect(names((await call(s, 1, 'tools/list')).result)).toEqual(expect.arrayContaining(expected));
    let id = 2;
    for (const prefix of ['old', 'nova']) {
      expect((await call(s, id++, 'tools/call', { name: `${prefix}__echo`, arguments: { text: 'x' } })).result).toMatchObject({ content: [{ type: 'text', text: `${prefix}: x` }], _meta: { from: prefix } });
      const token = `p-${prefix}`;
      await call(s, id++, 'tools/call', { name: `${prefix}__slow`, arguments: { ms: 60, steps: 2 }, _meta: { progressToken: token } });
      expect(messages(s).filter((m) => m.method === 'notifications/progress' && m.params?.progressToken === token).map((m) => m.params!.progress), `progress from ${prefix}`).toEqual([1, 2]);
      const before = messages(s).filter((m) => m.method === 'notifications/tools/list_changed').length;
      await call(s, id++, 'tools/call', { name: `${prefix}__add_tool`, arguments: {} });
      await waitFor(() => messages(s).filter((m) => m.method === 'notifications/tools/list_changed').length > before, 10_000, `list_changed from ${prefix}`);
      expect(names((await call(s, id++, 'tools/list')).result)).toContain(`${prefix}__added_1`);
    }
  });
});
