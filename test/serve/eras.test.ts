// mcpx's upstream in both protocol eras, against a 2025-era child (test/fixtures/child.mjs), over raw
// JSON-RPC lines so that every field on the wire is checked: a 2026-07-28 client (discover, lists with
// ttlMs, calls, progress, cancel, list_changed through subscriptions/listen, elicitation as
// input_required, cache hits), a host's throwaway probe copy, and a client that probes discover and
// then initializes on the same connection.
import { afterEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MCPX, fixture, marker, processesWith, rawServe, tempDir, text, waitFor, writeConfig } from '../helpers/mcpx.js';
import { answer, call, expectModernHost, messages, request } from '../helpers/modern.js';

const INIT = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'claude-code', version: '2.0.0' } };

type Session = ReturnType<typeof rawServe> & { mark: string; started: number; dir: string };
const open: Session[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) {
    s.proc.stdin.end();
    await s.exited;
  }
});

/** `mcpx serve` with the fixture child `a` (a marker on its command line), spoken to line by line. */
function session(env: Record<string, string> = {}): Session {
  const dir = tempDir();
  const mark = marker();
  const file = writeConfig({ mcpServers: { a: fixture('alpha', { INSTRUCTIONS: 'alpha does things', ...env }, { cache: { ttl: '1h' } }, mark) } }, dir);
  const started = performance.now();
  const s = { ...rawServe(file, dir), mark, started, dir };
  open.push(s);
  return s;
}

describe('a 2026-07-28 client', () => {
  it('gets the discover advertisement at once, without any child', async () => {
    const s = session();
    request(s, 1, 'server/discover');
    const r = (await answer(s, 1)).result;
    const took = performance.now() - s.started;
    expect(r.supportedVersions).toContain('2026-07-28');
    expect(r.capabilities).toMatchObject({ tools: { listChanged: true }, prompts: { listChanged: true }, resources: { subscribe: true, listChanged: true } });
    expect(r.instructions).toContain('a (tools a__*)'); // the merged instructions, from the config alone on a first start
    expect(r.resultType).toBe('complete');
    expect(r._meta['io.modelcontextprotocol/serverInfo'].name).toBe('mcpx');
    // From spawn, node's own start included: printed, not bounded (speed is the bench's). "At once" is
    // that no child was started to answer it.
    console.log(`discover answered ${took.toFixed(0)} ms after spawn`);
    expect(processesWith(s.mark)).toHaveLength(0);
  });

  it('answers discover again once the SDK is loaded (the time is printed; bench/compare.mjs measures start-up)', async () => {
    const s = session();
    request(s, 1, 'server/discover'); // the first one waits for node to start (answered before the SDK loads: first-answer.ts)
    await answer(s, 1);
    request(s, 'loaded', 'server/discover'); // answered by the SDK once it is loaded: mcpx is reading
    await answer(s, 'loaded');
    // Timed on the stdout event itself (waitFor polls every 25 ms).
    const answered = new Promise<number>((resolve) => {
      const on = (d: Buffer) => d.toString().includes('"id":2') && (s.proc.stdout.off('data', on), resolve(performance.now()));
      s.proc.stdout.on('data', on);
    });
    const t = performance.now();
    request(s, 2, 'server/discover');
    const took = (await answered) - t;
    console.log(`discover answered in ${took.toFixed(1)} ms`);
    expect((await answer(s, 2)).result.supportedVersions).toContain('2026-07-28');
  });

  it('lists, calls, gets progress, cancels, hits the cache, and hears list_changed through listen', async () => {
    const s = session();
    await call(s, 1, 'server/discover');
    const tools = (await call(s, 2, 'tools/list')).result;
    expect(tools.tools.map((t: { name: string }) => t.name)).toContain('a__echo');
    expect(tools).toMatchObject({ resultType: 'complete', ttlMs: 0, cacheScope: 'private' }); // no listen stream: no long ttl

    const echo = (await call(s, 3, 'tools/call', { name: 'a__echo', arguments: { text: 'hi' } })).result;
    expect(echo).toMatchObject({ content: [{ type: 'text', text: 'alpha: hi' }], _meta: { from: 'alpha' }, resultType: 'complete' });

    const slow = (await call(s, 4, 'tools/call', { name: 'a__slow', arguments: { steps: 3, ms: 150 }, _meta: { progressToken: 'p1' } })).result;
    expect(slow.content[0].text).toContain('slow done');
    const progress = messages(s).filter((m) => m.method === 'notifications/progress' && m.params?.progressToken === 'p1');
    expect(progress.map((m) => m.params!.progress)).toEqual([1, 2, 3]);

    request(s, 5, 'tools/call', { name: 'a__slow', arguments: { steps: 100, ms: 30_000 }, _meta: { progressToken: 'p5' } });
    await waitFor(() => messages(s).find((m) => m.params?.progressToken === 'p5'), 10_000, 'the slow call to reach the child');
    s.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 5, reason: 'user' } });
    await waitFor(async () => (await call(s, `c-${Date.now()}`, 'tools/call', { name: 'a__cancelled', arguments: {} })).result.content[0].text === '1', 10_000, 'the child to see the cancel');

    const first = (await call(s, 6, 'tools/call', { name: 'a__search', arguments: { query: 'q' } })).result;
    const second = (await call(s, 7, 'tools/call', { name: 'a__search', arguments: { query: 'q' } })).result;
    expect(second.content).toEqual(first.content);
    expect(second._meta['mcpx/cache']).toMatchObject({ status: 'hit', server: 'a' });

    request(s, 'L', 'subscriptions/listen', { notifications: { toolsListChanged: true } });
    await waitFor(() => messages(s).find((m) => m.method === 'notifications/subscriptions/acknowledged'), 5000, 'the listen ack');
    expect((await call(s, 8, 'tools/list')).result).toMatchObject({ ttlMs: 86_400_000, cacheScope: 'private' });
    await call(s, 9, 'tools/call', { name: 'a__add_tool', arguments: {} });
    const changed = await waitFor(() => messages(s).find((m) => m.method === 'notifications/tools/list_changed'), 10_000, 'list_changed');
    expect(changed.params?._meta?.['io.modelcontextprotocol/subscriptionId']).toBeDefined();
    expect((await call(s, 10, 'tools/list')).result.tools.map((t: { name: string }) => t.name)).toContain('a__added_1');
  });

  it("answers a child's elicitation as input_required, and the retry finishes the call", async () => {
    const s = session();
    const first = (await call(s, 1, 'tools/call', { name: 'a__ask', arguments: {} })).result;
    expect(first.resultType).toBe('input_required');
    expect(first.inputRequests.input).toMatchObject({ method: 'elicitation/create', params: { message: 'Your name?' } });
    expect(typeof first.requestState).toBe('string');

    const done = (await call(s, 2, 'tools/call', { name: 'a__ask', arguments: {}, inputResponses: { input: { action: 'accept', content: { name: 'Grace' } } }, requestState: first.requestState })).result;
    expect(done).toMatchObject({ resultType: 'complete', content: [{ text: 'alpha: accept {"name":"Grace"}' }] });

    // Single use: the same state again is refused.
    const again = await call(s, 3, 'tools/call', { name: 'a__ask', arguments: {}, inputResponses: { input: { action: 'accept', content: {} } }, requestState: first.requestState });
    expect(again.error).toMatchObject({ code: -32602, message: expect.stringContaining('requestState') });
  });

  it('reads, gets prompts, and hears resources/updated for the URIs its listen stream names (the child is subscribed)', async () => {
    const s = session();
    const read = (await call(s, 1, 'resources/read', { uri: 'fixture://alpha/readme' })).result;
    expect(read.contents[0].uri).toBe('fixture://alpha/readme');
    const prompt = (await call(s, 2, 'prompts/get', { name: 'a__greet', arguments: { who: 'Ada' } })).result;
    expect(prompt.messages.length).toBeGreaterThan(0);
    expect((await call(s, 3, 'prompts/list')).result.prompts.map((p: { name: string }) => p.name)).toContain('a__greet');

    // The fixture announces an update 50 ms after it is subscribed: only the listen filter asked for it.
    request(s, 'L', 'subscriptions/listen', { notifications: { resourceSubscriptions: ['fixture://alpha/readme'] } });
    const updated = await waitFor(() => messages(s).find((m) => m.method === 'notifications/resources/updated'), 10_000, 'resources/updated');
    expect(updated.params).toMatchObject({ uri: 'fixture://alpha/readme', _meta: { 'io.modelcontextprotocol/subscriptionId': expect.anything() } });
  });

  it("answers a child's roots/list as input_required when the client declares roots", async () => {
    const s = session();
    const caps = { roots: {}, elicitation: { form: {} } };
    const asked = (await call(s, 1, 'tools/call', { name: 'a__roots', arguments: {} }, caps)).result;
    expect(asked).toMatchObject({ resultType: 'input_required', inputRequests: { input: { method: 'roots/list' } } });
    const retry = { name: 'a__roots', arguments: {}, inputResponses: { input: { roots: [{ uri: 'file:///work' }] } }, requestState: asked.requestState };
    expect((await call(s, 2, 'tools/call', retry, caps)).result).toMatchObject({ content: [{ text: 'file:///work' }] });
  });

  it('a client that declares no roots: the child asking for them gets an error, the client no question', async () => {
    const s = session();
    const r = await call(s, 1, 'tools/call', { name: 'a__roots', arguments: {} });
    expect(r.result?.resultType).not.toBe('input_required');
    expect(r.error).toMatchObject({ code: -32601 }); // the fixture's listRoots: the client (mcpx) did not declare roots
  });
});

describe('a host that probes', () => {
  it('a throwaway copy (discover, then EOF) starts no child and leaves no process', async () => {
    const s = session();
    request(s, 1, 'server/discover');
    await answer(s, 1);
    s.proc.stdin.end();
    const exit = await s.exited;
    expect(exit.code).toBe(0);
    expect(processesWith(s.mark)).toHaveLength(0);
    expect(s.stderr()).not.toContain('alpha');
    // Nothing was loaded for it: no control socket was ever opened (it would be <state>/run/<pid>.sock).
    expect(existsSync(join(s.dir, 'state', 'run'))).toBe(false);
  });

  it('discover, then initialize on the same connection: served as a 2025 client', async () => {
    const s = session();
    request(s, 1, 'server/discover');
    await answer(s, 1);
    s.send({ jsonrpc: '2.0', id: 2, method: 'initialize', params: INIT });
    const init = (await answer(s, 2)).result;
    expect(init.protocolVersion).toBe('2025-11-25');
    expect(init.serverInfo.name).toBe('mcpx');
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    s.send({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
    const tools = (await answer(s, 3)).result;
    expect(tools.tools.map((t: { name: string }) => t.name)).toContain('a__echo');
    expect(tools.ttlMs).toBeUndefined();
    s.send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'a__echo', arguments: { text: 'x' } } });
    expect((await answer(s, 4)).result).toEqual({ content: [{ type: 'text', text: 'alpha: x' }], _meta: { from: 'alpha' } });
    expect(processesWith(s.mark)).toHaveLength(1);
  });
});

describe('a 2025 client', () => {
  it('may send a request larger than the v2 transport default (10 MB): the upstream reads up to maxMessageBytes', async () => {
    const s = session();
    s.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: INIT });
    await answer(s, 1);
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const big = 'x'.repeat(11 * 1024 * 1024);
    // mcpx's own status tool (it ignores arguments): the fixture child has a limit of its own.
    s.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'mcpx__status', arguments: { padding: big } } });
    const r = await answer(s, 2, 30_000);
    expect(r.result.structuredContent).toBeDefined();
    s.send({ jsonrpc: '2.0', id: 3, method: 'ping' });
    expect((await answer(s, 3)).result).toEqual({});
  });
});

describe('a host on the v2 SDK (its StdioClientTransport, which probes on a throwaway copy)', () => {
  it.each([['pinned to 2026-07-28', { pin: '2026-07-28' as const }], ['auto', 'auto' as const]])('%s: connects, lists, calls, answers an elicitation, and leaves no process', async (_, mode) => {
    const { Client } = await import('@modelcontextprotocol/client');
    const { StdioClientTransport } = await import('@modelcontextprotocol/client/stdio');
    const dir = tempDir();
    const mark = marker();
    const file = writeConfig({ mcpServers: { a: fixture('alpha', {}, {}, mark) } }, dir);
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [MCPX, 'serve', '--config', file],
      env: { ...(process.env as Record<string, string>), MCPX_CONFIG: '', MCPX_STATE_DIR: join(dir, 'state'), MCPX_CACHE_DIR: join(dir, 'cache') },
      stderr: 'pipe',
    });
    const client = new Client({ name: 'host', version: '1.0.0' }, { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode } });
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { name: 'Ada' } }));
    await client.connect(transport);
    try {
      await expectModernHost(client, 'Ada');
      // One mcpx serves (the probe copy is gone) with one child.
      await waitFor(() => processesWith(file).length === 1, 10_000, 'the probe copy of mcpx to exit');
      expect(processesWith(mark)).toHaveLength(1);
    } finally {
      await client.close();
    }
    await waitFor(() => processesWith(file).length === 0 && processesWith(mark).length === 0, 10_000, 'mcpx and its child to exit');
  });
});
