// What a child that is not built on the SDK may send, through mcpx to a client speaking JSON-RPC lines:
// - ids and progress tokens as strings, both ways: a client's string ids and progress tokens come back
//   as they were sent; a child that echoes mcpx's ids and tokens as strings is understood (the SDK
//   Client accepts them, so the route past it (children/raw.ts) must too, not wait for its deadline);
// - a malformed answer (`"error": null`) fails that one call at once, with a message naming the server,
//   and the child's next answers still arrive.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, marker, rawSessions, tempDir, waitFor, writeConfig } from '../helpers/mcpx.js';

const mark = marker();
const serveRaw = rawSessions(afterEach, mark);
const WIRE_CHILD = join(ROOT, 'test/fixtures/wire-child.mjs');

type Message = { id?: unknown; method?: string; params?: Record<string, unknown>; result?: { content?: { text: string }[] }; error?: { code: number; message: string } };

/** mcpx in front of one wire-child (`w`), initialized by a client whose first id is a string. */
async function start(env: Record<string, string>) {
  const dir = tempDir();
  const file = writeConfig({ mcpServers: { w: { command: process.execPath, args: [WIRE_CHILD, mark], env, protocol: 'legacy', timeoutMs: '10s' } } }, dir);
  const s = serveRaw(file, dir);
  const got = (): Message[] => s.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  const answer = (id: unknown, ms = 15_000) => waitFor(() => got().find((m) => m.id === id && m.method === undefined), ms, `the answer to ${JSON.stringify(id)}`);
  s.send({ jsonrpc: '2.0', id: 'init-1', method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'wire', version: '1' } } });
  await answer('init-1');
  s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  let n = 0;
  await waitFor(async () => {
    const id = `list-${n++}`;
    s.send({ jsonrpc: '2.0', id, method: 'tools/list' });
    return ((await answer(id)) as { result?: { tools: { name: string }[] } }).result?.tools.some((t) => t.name === 'w__echo');
  }, 15_000, 'the child listed');
  return { s, got, answer, dir };
}

describe('a child speaking JSON-RPC lines', () => {
  it("string ids and progress tokens, the client's and the child's", async () => {
    const { s, got, answer } = await start({ STRING_IDS: '1' });
    s.send({ jsonrpc: '2.0', id: 'call-1', method: 'tools/call', params: { name: 'w__echo', arguments: { text: 'hi' } } });
    // Well inside the child's 10 s timeout: a string id not matched would wait for it.
    expect((await answer('call-1', 5_000)).result?.content?.[0]?.text).toBe('echo: hi');
    s.send({ jsonrpc: '2.0', id: 'call-2', method: 'tools/call', params: { name: 'w__slow', arguments: {}, _meta: { progressToken: 'tok-1' } } });
    expect((await answer('call-2', 5_000)).result?.content?.[0]?.text).toBe('slow: done');
    const progress = got().filter((m) => m.method === 'notifications/progress').map((m) => m.params);
    expect(progress).toEqual([{ progress: 1, total: 2, progressToken: 'tok-1' }, { progress: 2, total: 2, progressToken: 'tok-1' }]);
    // A number id from the same client is still answered as a number.
    s.send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'w__echo', arguments: { text: 'seven' } } });
    expect((await answer(7, 5_000)).result?.content?.[0]?.text).toBe('echo: seven');
  });

  it('a malformed answer fails its call at once, naming the server, and the next call is answered', async () => {
    const { s, answer, dir } = await start({});
    s.send({ jsonrpc: '2.0', id: 'bad', method: 'tools/call', params: { name: 'w__bad_once', arguments: {} } });
    const bad = await answer('bad', 5_000);
    // A failure of the child's (its breaker counts it), told as mcpx tells any failed call.
    expect(bad.result).toMatchObject({ isError: true });
    expect(bad.result?.content?.[0]?.text).toMatch(/^w is unavailable: malformed response: its error is null, not an object/);
    s.send({ jsonrpc: '2.0', id: 'good', method: 'tools/call', params: { name: 'w__bad_once', arguments: {} } });
    expect((await answer('good', 5_000)).result?.content?.[0]?.text).toBe('bad_once: fine now');
    s.send({ jsonrpc: '2.0', id: 'echo', method: 'tools/call', params: { name: 'w__echo', arguments: { text: 'still here' } } });
    expect((await answer('echo', 5_000)).result?.content?.[0]?.text).toBe('echo: still here');
    // The log says which server sent it.
    await waitFor(() => readFileSync(join(dir, 'state', 'mcpx.log'), 'utf8').match(/\bw: .*malformed/), 5_000, 'the log line');
  });
});
