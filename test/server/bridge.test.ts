// The upstream bridge's logic on fakes: a 2025 client gets real requests (URL-mode elicitation with an
// elicitationId), a 2026 client gets a child's request as input_required within the request in flight
// for that child, answered by the retry, and declined when the client never answers.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Server, ServerContext } from '@modelcontextprotocol/server';
import { UpstreamEdge, type Asker, type Step } from '../../src/server/bridge.js';
import { Sessions } from '../../src/server/sessions.js';

afterEach(() => vi.useRealTimers());

const CAPS = 'io.modelcontextprotocol/clientCapabilities';
function ctx(opts: { caps?: Record<string, unknown>; state?: string; answer?: unknown } = {}): ServerContext {
  return {
    mcpReq: {
      envelope: { [CAPS]: opts.caps ?? { elicitation: {} } },
      requestState: () => opts.state,
      inputResponses: opts.answer === undefined ? undefined : { input: opts.answer },
    },
  } as unknown as ServerContext;
}
const next = (flight: { next(): Promise<Step> }) => flight.next();

describe('bridge to a 2025 client', () => {
  it('sends a real request; URL-mode elicitation gets an elicitationId when the child sent none', async () => {
    const edge = new UpstreamEdge();
    const request = vi.fn(async () => ({ action: 'accept' }));
    edge.server = { request, getClientCapabilities: () => ({ elicitation: { url: {} } }) } as unknown as Server;
    edge.era = 'legacy';
    const signal = new AbortController().signal;
    await edge.request('elicitation/create', { mode: 'url', url: 'https://x', message: 'sign in' }, signal);
    await edge.request('elicitation/create', { message: 'name?', requestedSchema: { type: 'object' } }, signal);
    const sent = request.mock.calls.map((c) => (c as unknown[])[0] as { params: Record<string, unknown> });
    expect(sent[0]!.params).toMatchObject({ mode: 'url', url: 'https://x', elicitationId: expect.any(String) });
    expect(sent[1]!.params).toEqual({ message: 'name?', requestedSchema: { type: 'object' } });
    expect(edge.capabilities()).toEqual({ elicitation: { url: {} } });
  });
});

describe('bridge to a 2026-07-28 client', () => {
  it('refuses a child request when no request of the client is in flight for it', async () => {
    const edge = new UpstreamEdge();
    edge.era = 'modern';
    await expect(edge.request('elicitation/create', {}, new AbortController().signal)).rejects.toThrow(/no request of the client/);
  });

  it("turns the child's request into input_required, and the retry's answer into the child's result", async () => {
    const edge = new UpstreamEdge();
    edge.era = 'modern';
    let asked: Promise<Record<string, unknown>> | undefined;
    const run = async (_s: AbortSignal, _p: unknown, asker: Asker) => {
      asked = edge.request('elicitation/create', { message: 'name?' }, new AbortController().signal, asker);
      return { content: [{ type: 'text', text: JSON.stringify(await asked) }] };
    };
    const first = (await edge.leg(ctx(), 'a', run, next)) as { resultType: string; requestState: string; inputRequests: Record<string, unknown> };
    expect(first).toMatchObject({ resultType: 'input_required', inputRequests: { input: { method: 'elicitation/create', params: { message: 'name?' } } } });
    const done = await edge.leg(ctx({ state: first.requestState, answer: { action: 'accept', content: { n: 1 } } }), 'a', run, next);
    expect(done).toEqual({ content: [{ type: 'text', text: '{"action":"accept","content":{"n":1}}' }] });
    // single use
    await expect(edge.leg(ctx({ state: first.requestState, answer: {} }), 'a', run, next)).rejects.toThrow(/requestState/);
  });

  it("does not hand another child's request to a call in flight, nor one the client's capabilities do not allow", async () => {
    const edge = new UpstreamEdge();
    edge.era = 'modern';
    const sessions = new Sessions({ sole: edge });
    let release!: () => void;
    const pending = edge.leg(ctx({ caps: { elicitation: {} } }), 'a', () => new Promise((r) => (release = () => r({ ok: 1 }))), next);
    await vi.waitFor(() => expect(release).toBeDefined());
    const signal = new AbortController().signal;
    await expect(sessions.request('elicitation/create', {}, signal, 'b')).rejects.toThrow(/no request/);
    await expect(sessions.request('roots/list', {}, signal, 'a')).rejects.toThrow(/roots/);
    release();
    expect(await pending).toEqual({ ok: 1 });
  });

  it('a question never answered: the child hears cancel, its call is aborted', async () => {
    vi.useFakeTimers();
    const edge = new UpstreamEdge();
    edge.era = 'modern';
    let asked: Promise<Record<string, unknown>> | undefined;
    let aborted: AbortSignal | undefined;
    const run = (signal: AbortSignal, _p: unknown, asker: Asker) => {
      aborted = signal;
      asked = edge.request('elicitation/create', { message: 'name?' }, new AbortController().signal, asker);
      return new Promise(() => undefined);
    };
    const first = (await edge.leg(ctx(), 'a', run, next)) as { resultType: string };
    expect(first.resultType).toBe('input_required');
    await vi.advanceTimersByTimeAsync(600_000);
    await expect(asked).resolves.toEqual({ action: 'cancel' });
    expect(aborted?.aborted).toBe(true);
  });
});
