// 2025 sessions over HTTP, in process on the SDK's real transport: a session nobody asks
// anything for SESSION_IDLE_MS, with no GET stream open, is closed (its client gets 404); one with an
// open stream is kept. Fake timers: the sweep runs on them.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Server } from '@modelcontextprotocol/server';
import { LegacySessions } from '../../src/server/http-legacy.js';
import { Sessions } from '../../src/server/sessions.js';

afterEach(() => vi.useRealTimers());

const IDLE = 60_000;
const URL = 'http://127.0.0.1/mcp';
const auth = { token: '', clientId: 'test', scopes: [] };
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

function legacy() {
  const sessions = new Sessions();
  const upstream = { factoryFor: () => () => new Server({ name: 'mcpx', version: '0' }, { capabilities: {} }), unsubscribe: () => undefined };
  return { sessions, http: new LegacySessions(upstream as never, sessions, IDLE) };
}

async function initialize(http: LegacySessions): Promise<string> {
  const body = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 't', version: '1' } } };
  const r = await http.handle(new Request(URL, { method: 'POST', headers, body: JSON.stringify(body) }), body, auth);
  expect(r.status).toBe(200);
  await r.body?.cancel();
  return r.headers.get('mcp-session-id')!;
}

const ping = (http: LegacySessions, sid: string) => {
  const body = { jsonrpc: '2.0', id: 2, method: 'ping' };
  return http.handle(new Request(URL, { method: 'POST', headers: { ...headers, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' }, body: JSON.stringify(body) }), body, auth);
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
