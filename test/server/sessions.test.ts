// Sessions (issue 15): many upstream clients over one set of children. A child's request goes to the
// client whose call to that child is the oldest in flight, never another; list_changed to every
// initialized client, resources/updated to those that subscribed; closing a client cancels its calls.
import { describe, expect, it, vi } from 'vitest';
import type { Server } from '@modelcontextprotocol/server';
import { UpstreamEdge } from '../../src/server/bridge.js';
import { Sessions } from '../../src/server/sessions.js';

/** A 2025 client's edge on a fake Server that records what it is sent. */
function client(name: string, caps: Record<string, unknown> = { elicitation: {} }) {
  const edge = new UpstreamEdge();
  const asked: string[] = [];
  const sent: string[] = [];
  edge.server = {
    request: vi.fn(async (r: { method: string }) => (asked.push(r.method), { action: 'accept', who: name })),
    notification: vi.fn(async (n: { method: string }) => void sent.push(n.method)),
    getClientCapabilities: () => caps,
  } as unknown as Server;
  edge.era = 'legacy';
  edge.allUpdates = false;
  return { edge, asked, sent };
}

/** A call of this client to `child`, in flight until the returned function is called. */
function inFlight(edge: UpstreamEdge, child: string) {
  let end!: () => void;
  let seen!: AbortSignal;
  const done = edge.track(child, new AbortController().signal, (signal) => ((seen = signal), new Promise<void>((r) => (end = r))));
  return { end: async () => (end(), await done), signal: () => seen };
}

const signal = new AbortController().signal;

/** Two 2025 clients over HTTP (no sole client). */
function twoClients() {
  const sessions = new Sessions();
  const a = client('a');
  const b = client('b');
  sessions.open(a.edge);
  sessions.open(b.edge);
  return { sessions, a, b };
}

describe('a child request', () => {
  it('goes to the client with the oldest call in flight to that child, never to another', async () => {
    const { sessions, a, b } = twoClients();
    const bToX = inFlight(b.edge, 'x');
    const aToX = inFlight(a.edge, 'x');
    const aToY = inFlight(a.edge, 'y');
    expect(await sessions.request('elicitation/create', {}, signal, 'x')).toMatchObject({ who: 'b' });
    expect(await sessions.request('elicitation/create', {}, signal, 'y')).toMatchObject({ who: 'a' });
    await bToX.end();
    expect(await sessions.request('elicitation/create', {}, signal, 'x')).toMatchObject({ who: 'a' });
    await aToX.end();
    await aToY.end();
    await expect(sessions.request('roots/list', {}, signal, 'x')).rejects.toThrow('roots/list: no request of a client is waiting on this server');
    expect(b.asked).toEqual(['elicitation/create']);
  });

  it('over stdio goes to the only client even with no call in flight (as before sessions)', async () => {
    const a = client('a');
    const sessions = new Sessions({ sole: a.edge });
    expect(await sessions.request('roots/list', {}, signal, 'x')).toMatchObject({ who: 'a' });
    expect(sessions.capabilities()).toEqual({ elicitation: {} });
  });
});

describe('capabilities over HTTP', () => {
  it('are the defaults and the union of the connected clients', () => {
    const sessions = new Sessions({ defaults: { elicitation: { form: {} } } });
    expect(sessions.capabilities()).toEqual({ elicitation: { form: {} } });
    sessions.open(client('a', { roots: {} }).edge);
    sessions.open(client('b', { elicitation: { url: {} } }).edge);
    expect(sessions.capabilities()).toEqual({ elicitation: { form: {}, url: {} }, roots: {} });
  });
});

describe('notifications', () => {
  it('resources/updated reaches the clients holding the URI; list_changed every initialized client', () => {
    const { sessions, a, b } = twoClients();
    sessions.hold(a.edge, 'file:///one');
    sessions.notify({ method: 'notifications/resources/updated', params: { uri: 'file:///one' } });
    sessions.listsChanged(['tools']);
    expect(a.sent).toEqual(['notifications/resources/updated', 'notifications/tools/list_changed']);
    expect(b.sent).toEqual(['notifications/tools/list_changed']);
  });

  it('a URI stays subscribed while some client holds it', () => {
    const { sessions, a, b } = twoClients();
    sessions.hold(a.edge, 'u');
    sessions.hold(b.edge, 'u');
    expect(sessions.release(a.edge, 'u')).toBe(false);
    expect(sessions.close(b.edge)).toEqual(['u']); // b was the last holder: the child may be unsubscribed
  });
});

describe('closing a client', () => {
  it('cancels its calls in flight, and only its own', async () => {
    const { sessions, a, b } = twoClients();
    const aCall = inFlight(a.edge, 'x');
    const bCall = inFlight(b.edge, 'x');
    sessions.close(a.edge);
    expect(aCall.signal().aborted).toBe(true);
    expect(bCall.signal().aborted).toBe(false);
    expect(sessions.size).toBe(1);
    await Promise.all([aCall.end(), bCall.end()]);
  });
});
