// Know who is asking, over `mcpx serve --http` as real processes: a child's question goes to the client
// its call belongs to or to no one, a child's log lines to the session whose call produced them (at that
// session's own level), a 2025 session's question during a call on that call's own stream, a failed
// call's error message in the status to that call's caller only, and a session, a requestState or a
// listen filter stays with the token that made it, within the limits.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, LoggingMessageNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { execa, type ResultPromise } from 'execa';
import { ROOT, fixture, text, waitFor } from '../helpers/mcpx.js';
import { clientsClosedAfterEach, httpServers, type HttpMcpx } from '../helpers/http.js';
import { ENVELOPE, modern } from '../helpers/modern.js';

const { start } = httpServers(afterEach);
const ALICE = 'alice-token-3e9a71c0d2';
const BOB = 'bob-token-6b02f4e81a';
const clients = clientsClosedAfterEach(afterEach);

const team = (servers: Record<string, unknown>, http: Record<string, unknown> = {}) => ({ http: { tokens: { alice: ALICE, bob: BOB }, ...http }, mcpServers: servers });

/** A 2025-era SDK client (1.x) on its own session, with this token; `asked` records the elicitations it got. */
async function connect(s: HttpMcpx, token: string, who: string, asked: string[] = []) {
  const client = new Client({ name: who, version: '1.0.0' }, { capabilities: { elicitation: {} } });
  client.setRequestHandler(ElicitRequestSchema, async () => (asked.push(who), { action: 'accept', content: { name: who } }));
  const logs: string[] = [];
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data)));
  await client.connect(new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
  clients.push(client);
  return { client, logs };
}

/** A call of this client held at the child (a long `slow`), in flight once its first progress arrived. */
async function holding(client: Client, tool: string) {
  let progressed = false;
  const call = client.callTool({ name: tool, arguments: { ms: 60_000, steps: 600 } }, undefined, { onprogress: () => (progressed = true), timeout: 120_000 }).catch(() => undefined);
  await waitFor(() => progressed, 15_000, `${tool} to reach the child`);
  return { done: call }; // not the promise itself: an async function would wait for it
}

const remotes: ResultPromise[] = [];
afterEach(() => void remotes.splice(0).forEach((p) => p.kill('SIGTERM')));

/** The HTTP fixture child with 2025 sessions (its questions go out on the stream of the call they belong to). */
async function remoteChild(): Promise<string> {
  const proc = execa(process.execPath, [join(ROOT, 'test/fixtures/http-server.mjs')], { env: { TOKEN: 'remote-secret', SESSIONS: '1' }, buffer: false, reject: false });
  remotes.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d));
  const port = await waitFor(() => /PORT=(\d+)/.exec(out)?.[1], 20_000, 'the HTTP child');
  return `http://127.0.0.1:${port}/mcp`;
}

/** One raw POST to /mcp: headers as a client sends them, the body as given. */
function post(s: HttpMcpx, token: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(s.url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** The JSON-RPC messages of an SSE (or JSON) answer, read as they arrive; `until` stops the reading. */
async function readMessages(res: Response, onMessage: (m: Record<string, any>) => boolean | void): Promise<void> {
  if (!res.headers.get('content-type')?.includes('text/event-stream')) return void onMessage(await res.json());
  let buffer = '';
  for await (const chunk of res.body!.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (data && onMessage(JSON.parse(data)) === true) return;
    }
  }
}

/** A raw 2025 session with this token (no GET stream is ever opened); returns its id. */
async function rawSession(s: HttpMcpx, token: string): Promise<string> {
  const init = await post(s, token, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: { elicitation: {} }, clientInfo: { name: 'raw', version: '1' } } });
  expect(init.status).toBe(200);
  const sid = init.headers.get('mcp-session-id')!;
  await readMessages(init, () => true);
  const headers = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
  expect((await post(s, token, { jsonrpc: '2.0', method: 'notifications/initialized' }, headers)).status).toBe(202);
  return sid;
}

describe("a child's question", () => {
  it("from a 2026 child goes to the caller whose call it belongs to, while another caller's call to the same child is in flight (and older)", async () => {
    const s = await start(team({ m: modern('mod', {}, { protocol: '2026-07-28' }) }));
    const asked: string[] = [];
    const alice = await connect(s, ALICE, 'alice', asked);
    const bob = await connect(s, BOB, 'bob', asked);
    const bobs = await holding(bob.client, 'm__slow');
    const result = await alice.client.callTool({ name: 'm__ask', arguments: {} });
    expect(text(result)).toBe('mod: accept {"name":"alice"}');
    expect(asked).toEqual(['alice']);
    await bob.client.close();
    await bobs.done;
  });

  it("from an HTTP child goes to the caller on whose call's stream it came, while another caller's call to the same child is in flight (and older)", async () => {
    const url = await remoteChild();
    const s = await start(team({ r: { type: 'http', url, headers: { Authorization: 'Bearer remote-secret' } } }));
    const asked: string[] = [];
    const alice = await connect(s, ALICE, 'alice', asked);
    const bob = await connect(s, BOB, 'bob', asked);
    const bobs = await holding(bob.client, 'r__slow');
    expect(text(await alice.client.callTool({ name: 'r__ask', arguments: {} }))).toBe('remote: accept {"name":"alice"}');
    expect(asked).toEqual(['alice']);
    await bob.client.close();
    await bobs.done;
  });

  it('from a 2025 stdio child while two callers have calls to it: nobody is asked, the child gets an error naming why, and it is logged', async () => {
    const s = await start(team({ a: fixture('alpha') }));
    const asked: string[] = [];
    const alice = await connect(s, ALICE, 'alice', asked);
    const bob = await connect(s, BOB, 'bob', asked);
    const bobs = await holding(bob.client, 'a__slow');
    // The fixture's `ask` passes the error it got for its elicitation on as its own answer.
    await expect(alice.client.callTool({ name: 'a__ask', arguments: {} })).rejects.toThrow(/mcpx did not pass on elicitation\/create: 2 clients have calls in flight to a/);
    expect(asked).toEqual([]);
    // Not the child's failure: its breaker counted nothing (alice's next call reaches it).
    expect(text(await alice.client.callTool({ name: 'a__echo', arguments: { text: 'still there' } }))).toBe('alpha: still there');
    // The log file is written asynchronously: its line may land just after the answer.
    await waitFor(() => readFileSync(join(s.dir, 'state', 'mcpx.log'), 'utf8').includes('a: mcpx did not pass on elicitation/create: 2 clients have calls in flight to a'), 5_000, 'the log line');
    await bob.client.close();
    await bobs.done;
  });

  it("on a 2025 session reaches the client on the call's own POST stream (no GET stream open), and the call completes", async () => {
    const s = await start(team({ a: fixture('alpha') }));
    const sid = await rawSession(s, ALICE);
    const headers = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
    const call = await post(s, ALICE, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'a__ask', arguments: {} } }, headers);
    expect(call.headers.get('content-type')).toContain('text/event-stream');
    let result: Record<string, any> | undefined;
    const reading = readMessages(call, (m) => {
      if (m.method === 'elicitation/create') {
        void post(s, ALICE, { jsonrpc: '2.0', id: m.id, result: { action: 'accept', content: { name: 'Ada' } } }, headers);
        return false;
      }
      if (m.id === 1) return ((result = m), true);
    });
    await Promise.race([reading, new Promise((_, reject) => setTimeout(() => reject(new Error('no answer on the POST stream within 15 s')), 15_000))]);
    expect(result).toMatchObject({ result: { content: [{ type: 'text', text: 'alpha: accept {"name":"Ada"}' }] } });
  });
});

describe("a child's log lines", () => {
  it('go only to the session whose call produced them, at that session\'s own level', async () => {
    const s = await start(team({ a: fixture('alpha') }));
    const alice = await connect(s, ALICE, 'alice');
    const bob = await connect(s, BOB, 'bob');
    await alice.client.callTool({ name: 'a__log', arguments: {} });
    await waitFor(() => alice.logs.length === 1, 10_000, "alice's log line");
    // Bob asks for errors only: his own call's info line does not reach him, nor does it change what alice gets.
    await bob.client.setLoggingLevel('error');
    await bob.client.callTool({ name: 'a__log', arguments: {} });
    await alice.client.callTool({ name: 'a__log', arguments: {} });
    await waitFor(() => alice.logs.length === 2, 10_000, "alice's second log line");
    expect(alice.logs).toEqual(['alpha log line', 'alpha log line']);
    expect(bob.logs).toEqual([]);
  });
});

describe('what belongs to a token', () => {
  it("a session id presented with another caller's token is refused (403), and the session stays its opener's", async () => {
    const s = await start(team({ a: fixture('alpha') }));
    const sid = await rawSession(s, ALICE);
    const headers = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
    const stolen = await post(s, BOB, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'a__echo', arguments: { text: 'x' } } }, headers);
    expect(stolen.status).toBe(403);
    expect(await stolen.json()).toMatchObject({ jsonrpc: '2.0', error: { message: 'Forbidden: this session was opened with another token' } });
    const own = await post(s, ALICE, { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'a__echo', arguments: { text: 'mine' } } }, headers);
    let answer: Record<string, any> | undefined;
    await readMessages(own, (m) => ((answer = m), m.id === 2));
    expect(answer).toMatchObject({ result: { content: [{ text: 'alpha: mine' }] } });
  });

  it("a 2026 requestState (an input_required retry) presented by another caller is refused, and its owner's retry still answers", async () => {
    const s = await start(team({ m: modern('mod', {}, { protocol: '2026-07-28' }) }));
    const modernHeaders = { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'm__ask' };
    const call = (token: string, id: number, extra: Record<string, unknown> = {}) =>
      post(s, token, { jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'm__ask', arguments: {}, ...extra, _meta: ENVELOPE } }, modernHeaders);
    const read = async (res: Response) => {
      let m: Record<string, any> | undefined;
      await readMessages(res, (x) => ((m = x), 'id' in x && !('method' in x)));
      return m!;
    };
    const first = await read(await call(ALICE, 1));
    expect(first.result).toMatchObject({ resultType: 'input_required' });
    const answer = { inputResponses: { input: { action: 'accept', content: { name: 'Mallory' } } }, requestState: first.result.requestState };
    const theirs = await read(await call(BOB, 2, answer));
    expect(theirs.error).toMatchObject({ message: expect.stringContaining('belongs to another caller') });
    const mine = await read(await call(ALICE, 3, { ...answer, inputResponses: { input: { action: 'accept', content: { name: 'Ada' } } } }));
    expect(mine.result.content).toEqual([{ type: 'text', text: 'mod: accept {"name":"Ada"}' }]);
  });

  it("a child's error message in mcpx://status and mcpx__status is shown to the caller whose call failed, never to another", async () => {
    const s = await start(team({ docs: fixture('docs', { FAIL_NAMING_ARGS: '1' }) }));
    const [alice, bob] = [await connect(s, ALICE, 'alice'), await connect(s, BOB, 'bob')];
    await waitFor(async () => (await alice.client.listTools()).tools.some((t) => t.name === 'docs__search'), 20_000, 'the child to be listed');
    const failed = await alice.client.callTool({ name: 'docs__search', arguments: { query: 'acme merger' } });
    expect(failed.isError).toBe(true);
    const lastError = async (c: Client, via: 'resource' | 'tool') => {
      const json = via === 'resource'
        ? (((await c.readResource({ uri: 'mcpx://status' })).contents[0] as { text: string }).text)
        : (((await c.callTool({ name: 'mcpx__status', arguments: {} })).content as { text: string }[])[0]!.text);
      return (JSON.parse(json) as { servers: { docs: { lastError?: Record<string, unknown> } } }).servers.docs.lastError;
    };
    for (const via of ['resource', 'tool'] as const) {
      expect(await lastError(alice.client, via)).toMatchObject({ reason: 'error', message: expect.stringContaining('acme merger') });
      const seenByBob = await lastError(bob.client, via);
      expect(seenByBob).toMatchObject({ reason: 'error' }); // that the server failed is everyone's business
      expect(JSON.stringify(seenByBob)).not.toContain('acme merger'); // what alice asked for is not
    }
  });

  it('limits per caller: open sessions, URIs in one listen filter, the size of a request body; each refused with a clear error', async () => {
    const s = await start(team({ a: fixture('alpha') }, { limits: { sessions: 1, listenUris: 2, requestBytes: 4096 } }));
    // A session in use (here: a call in flight) is kept; an idle one would give its place (test/server/http-legacy.test.ts).
    await holding((await connect(s, ALICE, 'alice')).client, 'a__slow');
    const second = await post(s, ALICE, { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } } });
    expect(second.status).toBe(429);
    expect((await second.json()).error.message).toContain('http.limits.sessions');
    await rawSession(s, BOB); // another caller's count is its own

    const listen = await post(s, ALICE, { jsonrpc: '2.0', id: 5, method: 'subscriptions/listen', params: { notifications: { resourceSubscriptions: ['a://1', 'a://2', 'a://3'] }, _meta: ENVELOPE } }, { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'subscriptions/listen' });
    expect(listen.status).toBe(400);
    expect(await listen.json()).toMatchObject({ id: 5, error: { code: -32602, message: expect.stringContaining('3 resource URIs in one filter, more than the 2 allowed (http.limits.listenUris)') } });

    const big = await post(s, ALICE, JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'a__echo', arguments: { text: 'x'.repeat(8192) } } }));
    expect(big.status).toBe(413);
    expect((await big.json()).error.message).toContain('4096 bytes');
  });

  it('/healthz is behind the Host and Origin checks too (DNS rebinding)', async () => {
    const s = await start(team({ a: fixture('alpha') }));
    expect((await fetch(`${s.base}/healthz`, { headers: { origin: 'https://evil.example' } })).status).toBe(403);
    expect((await fetch(`${s.base}/healthz`)).status).toBeLessThan(500);
  });
});
