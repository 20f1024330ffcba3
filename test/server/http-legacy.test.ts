// 2025 sessions over HTTP, in process on the SDK's real transport: a session nobody asks
// anything for SESSION_IDLE_MS, with no GET stream open, is closed (its client gets 404); one with an
// open stream is kept. Fake timers: the sweep runs on them. A caller at its limit of sessions gets a
// new one in place of its least recently used idle one; one in use (a call in flight, a GET stream) is kept.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Server } from '@modelcontextprotocol/server';
import { LegacySessions } from '../../src/server/http-legacy.js';
import { Sessions } from '../../src/server/sessions.js';

afterEach(() => vi.useRealTimers());

const IDLE = 60_000;
const URL = 'http://127.0.0.1/mcp';
const auth = { token: '', clientId: 'test', scopes: [] };
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

/** `held`: a tools/call is answered only once it resolves (a call in flight for as long as the test wants). */
function legacy(maxPerCaller?: number, held: Promise<void> = Promise.resolve()) {
  const sessions = new Sessions();
  const server = () => {
    const s = new Server({ name: 'mcpx', version: '0' }, { capabilities: { tools: {} } });
    s.setRequestHandler('tools/call', async () => (await held, { content: [] }));
    return s;
  };
  const upstream = { factoryFor: () => server, unsubscribe: () => undefined };
  return { sessions, http: new LegacySessions(upstream as never, sessions, IDLE, maxPerCaller) };
}

const as = (clientId: string) => ({ ...auth, clientId });

/** Opens a session; `refused`: the status expected instead of 200. */
async function initialize(http: LegacySessions, caller = auth, refused?: number): Promise<string> {
  const body = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
  const r = await http.handle(new Request(URL, { method: 'POST', headers, body: JSON.stringify(body) }), body, caller);
  expect(r.status).toBe(refused ?? 200);
  await r.text(); // read in full, as a client does: the session is no longer busy with it
  return r.headers.get('mcp-session-id')!;
}

const inSession = (sid: string) => ({ ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' });

const ping = (http: LegacySessions, sid: string, caller = auth) => {
  const body = { jsonrpc: '2.0', id: 2, method: 'ping' };
  return http.handle(new Request(URL, { method: 'POST', headers: inSession(sid), body: JSON.stringify(body) }), body, caller);
};

describe('idle 2025 sessions over HTTP', () => {
  it('are closed after the idle time with no stream open: the client gets 404', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'Date'] });
    const { sessions, http } = legacy();
    const sid = await initialize(http);
    expect(sessions.size).toBe(1);
    vi.advanceTimersByTime(IDLE / 2);
    expect((await ping(http, sid)).status).toBe(200); // a request resets the idle time
    vi.advanceTimersByTime(IDLE);
    expect(http.size).toBe(1);
    vi.advanceTimersByTime(IDLE);
    await vi.waitFor(() => expect(http.size).toBe(0));
    expect(sessions.size).toBe(0);
    expect((await ping(http, sid)).status).toBe(404);
    await http.closeAll();
  });

  it('are kept while their GET stream is open', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'Date'] });
    const { http } = legacy();
    const sid = await initialize(http);
    const stream = await http.handle(new Request(URL, { method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' } }), undefined, auth);
    expect(stream.status).toBe(200);
    vi.advanceTimersByTime(IDLE * 3);
    expect(http.size).toBe(1);
    await http.closeAll();
    expect(http.size).toBe(0);
  });
});

describe('a caller at its limit of 2025 sessions (http.limits.sessions)', () => {
  it('gets a new session in place of its least recently used idle one (a client that never sent DELETE); the old one answers 404', async () => {
    const { http } = legacy(2);
    const [a, b] = [await initialize(http), await initialize(http)];
    const other = await initialize(http, as('other'));
    expect((await ping(http, a)).status).toBe(200); // a was used last: b is the least recently used
    const c = await initialize(http);
    expect((await ping(http, b)).status).toBe(404);
    for (const sid of [a, c]) expect((await ping(http, sid)).status).toBe(200);
    expect((await ping(http, other, as('other'))).status).toBe(200); // another caller's sessions are its own
    expect(http.size).toBe(3);
    await http.closeAll();
  });

  it('keeps a session with a call in flight or a GET stream open: the new one is refused with 429', async () => {
    let release!: () => void;
    const { http } = legacy(2, new Promise<void>((r) => (release = r)));
    const [calling, listening] = [await initialize(http), await initialize(http)];
    const body = { jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'x', arguments: {} } };
    const call = await http.handle(new Request(URL, { method: 'POST', headers: inSession(calling), body: JSON.stringify(body) }), body, auth);
    const stream = await http.handle(new Request(URL, { method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': listening, 'mcp-protocol-version': '2025-06-18' } }), undefined, auth);
    expect(stream.status).toBe(200);
    await initialize(http, auth, 429);
    release();
    expect(await call.text()).toContain('"id":3'); // its answer sent in full: the session is idle again
    await initialize(http);
    expect((await ping(http, calling)).status).toBe(404);
    expect((await ping(http, listening)).status).toBe(200);
    await http.closeAll();
  });
});
