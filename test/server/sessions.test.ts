// Sessions: many upstream clients over one set of children. A child's request goes to the client its
// call belongs to (by correlation, or as the one client with calls in flight to that child), or to no one; list_changed to every
// initialized client, resources/updated to those that subscribed; closing a client cancels its calls.
import { describe, expect, it, vi } from 'vitest';
import type { Server } from '@modelcontextprotocol/server';
import { UpstreamEdge, type Asker } from '../../src/server/bridge.js';
import { Sessions, soleOwner } from '../../src/server/sessions.js';

/** A 2025 client's edge on a fake Server that records what it is sent. */
function client(name: string, caps: Record<string, unknown> = { elicitation: {} }) {
  const edge = new UpstreamEdge();
  const asked: string[] = [];
  const sent: string[] = [];
  const options: unknown[] = [];
  edge.server = {
    request: vi.fn(async (r: { method: string }, _schema: unknown, o: unknown) => (asked.push(r.method), options.push(o), { action: 'accept', who: name })),
    notification: vi.fn(async (n: { method: string }) => void sent.push(n.method)),
    getClientCapabilities: () => caps,
  } as unknown as Server;
  edge.era = 'legacy';
  edge.allUpdates = false;
  return { edge, asked, sent, options };
}

/** A call of this client to `child` (JSON-RPC id `id`), in flight until `end` is called. */
function inFlight(edge: UpstreamEdge, child: string, id?: number) {
  let end!: () => void;
  let seen!: AbortSignal;
  let asker!: Asker;
  const done = edge.track(child, new AbortController().signal, (signal, a) => ((seen = signal), (asker = a), new Promise<void>((r) => (end = r))), id);
  return { end: async () => (end(), await done), signal: () => seen, asker: () => asker };
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
  it('without correlation goes to the one client with calls in flight to that child, or to no one', async () => {
    const { sessions, a, b } = twoClients();
    const bToX = inFlight(b.edge, 'x');
    const aToX = inFlight(a.edge, 'x');
    const aToY = inFlight(a.edge, 'y');
    // Two clients have calls to x: a 2025 stdio child's request says nothing about its call. Refused, naming why.
    await expect(sessions.request('elicitation/create', {}, signal, 'x')).rejects.toMatchObject({ code: -32600, message: expect.stringContaining('2 clients have calls in flight to x') });
    expect(await sessions.request('elicitation/create', {}, signal, 'y')).toMatchObject({ who: 'a' });
    await bToX.end();
    expect(await sessions.request('elicitation/create', {}, signal, 'x')).toMatchObject({ who: 'a' });
    await aToX.end();
    await aToY.end();
    await expect(sessions.request('roots/list', {}, signal, 'x')).rejects.toThrow('mcpx did not pass on roots/list: no call of any client is in flight to x');
    expect(b.asked).toEqual([]);
  });

  it('with correlation goes to the client of the call it belongs to, on that call\'s own stream, even while others call the same child', async () => {
    const { sessions, a, b } = twoClients();
    const bToX = inFlight(b.edge, 'x');
    const aToX = inFlight(a.edge, 'x', 7);
    expect(await sessions.request('elicitation/create', {}, signal, 'x', new Set([aToX.asker()]))).toMatchObject({ who: 'a' });
    expect(a.options[0]).toMatchObject({ relatedRequestId: 7 });
    expect(b.asked).toEqual([]);
    // One child call shared by identical calls of two clients: no one owner.
    await expect(sessions.request('elicitation/create', {}, signal, 'x', new Set([aToX.asker(), bToX.asker()]))).rejects.toThrow(/shared by 2 clients/);
    await Promise.all([aToX.end(), bToX.end()]);
  });

  it('over stdio goes to the only client, even with no call in flight (roots at a child\'s start)', async () => {
    const a = client('a');
    const sessions = new Sessions({ sole: a.edge });
    expect(await sessions.request('roots/list', {}, signal, 'x')).toMatchObject({ who: 'a' });
    const one = inFlight(a.edge, 'x');
    const two = inFlight(a.edge, 'x');
    expect(await sessions.request('elicitation/create', {}, signal, 'x')).toMatchObject({ who: 'a' }); // two calls, one client
    await Promise.all([one.end(), two.end()]);
    expect(sessions.capabilities()).toEqual({ elicitation: {} });
  });
});

describe('the routing rule', () => {
  const edge = new UpstreamEdge();
  const other = new UpstreamEdge();
  const asker = (client: object, order: number) => ({ edge, client, child: 'x', order });
  it('one client: its oldest request; two clients or none: no owner', () => {
    expect(soleOwner([asker(edge, 5), asker(edge, 3)])).toMatchObject({ order: 3 });
    expect(soleOwner([asker(edge, 5), asker(other, 3)])).toBeUndefined();
    expect(soleOwner([])).toBeUndefined();
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

describe("a child's log lines", () => {
  const line = (level: string) => ({ method: 'notifications/message', params: { level, data: 'x' } });
  it("go to the one client with calls in flight to that child, on the call's stream, at the client's level; otherwise to no one", async () => {
    const { sessions, a, b } = twoClients();
    const notified: [string, unknown][] = [];
    for (const [name, c] of [['a', a], ['b', b]] as const) (c.edge.server as unknown as { notification: unknown }).notification = async (n: unknown, o: unknown) => void notified.push([name, o]);
    const aToX = inFlight(a.edge, 'x', 4);
    sessions.notify(line('info'), 'x');
    expect(notified).toEqual([['a', { relatedRequestId: 4 }]]);
    a.edge.logLevel = 'warning';
    sessions.notify(line('info'), 'x'); // below a's level
    sessions.notify(line('error'), 'x');
    expect(notified.length).toBe(2);
    const bToX = inFlight(b.edge, 'x');
    sessions.notify(line('error'), 'x'); // two clients: whose line is it? no one's
    expect(notified.length).toBe(2);
    await Promise.all([aToX.end(), bToX.end()]);
    sessions.notify(line('error'), 'x'); // no call in flight over HTTP: no one's
    expect(notified.length).toBe(2);
  });

  it('children are told the most verbose level any client needs; a client that set none counts as all', () => {
    const { sessions, a, b } = twoClients();
    expect(sessions.logLevel()).toBeUndefined();
    a.edge.logLevel = 'error';
    expect(sessions.logLevel()).toBe('debug');
    b.edge.logLevel = 'warning';
    expect(sessions.logLevel()).toBe('warning');
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

describe('a tracked call', () => {
  it('follows the request\'s signal with a signal of its own, and lets go of it when over', async () => {
    const { edge } = client('a');
    const upstream = new AbortController();
    let seen!: AbortSignal;
    let end!: () => void;
    const done = edge.track('x', upstream.signal, (s) => ((seen = s), new Promise<void>((r) => (end = r))));
    expect(seen).not.toBe(upstream.signal);
    upstream.abort('stop');
    expect(seen.aborted).toBe(true);
    expect(seen.reason).toBe('stop');
    end();
    await done;
    const later = new AbortController();
    const after = edge.track('x', later.signal, async (s) => s);
    const s = await after;
    later.abort('late');
    expect(s.aborted).toBe(false); // the call is over: it no longer follows the request
  });

  it('uses the route\'s own AbortController as it is (one signal per call), and close() aborts it', async () => {
    const { edge } = client('a');
    const route = new AbortController();
    let seen!: AbortSignal;
    let end!: () => void;
    const done = edge.track('x', route, (s) => ((seen = s), new Promise<void>((r) => (end = r))));
    expect(seen).toBe(route.signal);
    expect(edge.inFlight('x')).toHaveLength(1);
    edge.close();
    expect(route.signal.aborted).toBe(true);
    end();
    await done;
    expect(edge.inFlight('x')).toHaveLength(0);
  });
});
