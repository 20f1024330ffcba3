// The pipeline itself (src/pipeline/call.ts) in front of a fake in-memory child, on vitest's fake clock:
// admission before the breaker, only the child's own failures counted, single flight with a cancel per
// caller, one re-authentication per child, and one failure path for every kind of request.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode } from '@modelcontextprotocol/sdk/types.js';
import { ProtocolError, SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import type { CallEvent } from '../../src/pipeline/call.js';
import { liftCacheAdvice } from '../../src/children/advice.js';
import { FakeChild, MemoryStore, live, ok, pipelineWith, serverConfig, textOf, until } from './helpers.js';

const read = (text: string) => ({ kind: 'tool' as const, params: { name: 'docs__read', arguments: { text } } });
const write = (value: string) => ({ kind: 'tool' as const, params: { name: 'docs__write', arguments: { value } } });
const childFailure = () => new ProtocolError(ErrorCode.InternalError, 'upstream API is down');
const refusedCredentials = () => Object.assign(new Error('Unauthorized'), { code: 401 });

function events(p: { on(e: 'call', f: (e: CallEvent) => void): unknown }): CallEvent[] {
  const seen: CallEvent[] = [];
  p.on('call', (e) => seen.push(e));
  return seen;
}

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('admission: bulkhead, then breaker', () => {
  it('a full queue is refused at once, naming the limit, and never counts against the breaker', async () => {
    const child = new FakeChild(serverConfig('docs', { maxConcurrent: 1, maxQueue: 1, breaker: { failureThreshold: 1 }, cache: { enabled: false } }));
    const { pipeline, policies } = pipelineWith(child);
    const seen = events(pipeline);
    const first = pipeline.run(write('1'), { signal: live() });
    const queued = pipeline.run(write('2'), { signal: live() });
    await until(() => child.received.length === 1, 'the first call sent');
    const refused = await Promise.all([3, 4, 5].map((i) => pipeline.run(write(`${i}`), { signal: live() })));
    for (const r of refused) {
      expect(r.isError).toBe(true);
      expect(textOf(r)).toBe("mcpx's queue for docs is full (1 running, 1 waiting; maxConcurrent 1, maxQueue 1); no cached answer for this call.");
    }
    expect(seen.map((e) => e.outcome)).toEqual(['queue-full', 'queue-full', 'queue-full']);
    expect(policies.breaker.state).toEqual({ kind: 'closed', failures: 0 });
    child.received[0]!.answer(ok('one'));
    await until(() => child.received.length === 2, 'the queued call sent');
    child.received[1]!.answer(ok('two'));
    expect([textOf(await first), textOf(await queued)]).toEqual(['one', 'two']);
  });

  it('time spent waiting in mcpx\'s queue is not held against the child; a timeout with the whole deadline is', async () => {
    const child = new FakeChild(serverConfig('docs', { maxConcurrent: 1, maxQueue: 5, timeoutMs: 1000, breaker: { failureThreshold: 1 }, cache: { enabled: false } }));
    const { pipeline, policies } = pipelineWith(child);
    const first = pipeline.run(write('1'), { signal: live() });
    const second = pipeline.run(write('2'), { signal: live() });
    const third = pipeline.run(write('3'), { signal: live() });
    await until(() => child.received.length === 1);
    await vi.advanceTimersByTimeAsync(900);
    child.received[0]!.answer(ok('one'));
    await until(() => child.received.length === 2, 'the second call sent with 100 ms left');
    await vi.advanceTimersByTimeAsync(100); // the second times out at the child; the third's deadline passes in the queue
    expect(textOf(await first)).toBe('one');
    expect(textOf(await second)).toBe('docs is unavailable: no answer within 1 s (900 ms of it waiting inside mcpx); no cached answer for this call.');
    expect(textOf(await third)).toMatch(/^no free slot in mcpx's queue for docs within the call's deadline \(waited 1 s; 1 running, 1 waiting; maxConcurrent 1, maxQueue 5\); no cached answer for this call\.$/);
    expect(policies.breaker.state).toEqual({ kind: 'closed', failures: 0 });

    // The same timeout, for a call that had its whole deadline: the child's failure.
    const alone = pipeline.run(write('4'), { signal: live() });
    await until(() => child.received.length === 3);
    await vi.advanceTimersByTimeAsync(1000);
    expect(textOf(await alone)).toBe('docs is unavailable: no answer within 1 s; no cached answer for this call.');
    expect(policies.breaker.state.kind).toBe('open');
  });

  it('a quota refusal never counts against the breaker', async () => {
    const child = new FakeChild(serverConfig('docs', { rateLimit: { calls: 1, per: '1m' }, timeoutMs: 1000, breaker: { failureThreshold: 1 }, cache: { enabled: false } }));
    child.auto = (r) => r.answer(ok('fine'));
    const { pipeline, policies } = pipelineWith(child);
    expect(textOf(await pipeline.run(write('1'), { signal: live() }))).toBe('fine');
    const refused = await pipeline.run(write('2'), { signal: live() });
    expect(textOf(refused)).toMatch(/^docs is unavailable: quota of 1 calls per 1 min used up, next slot in 1 min/);
    expect(policies.breaker.state).toEqual({ kind: 'closed', failures: 0 });
    expect(policies.quota!.heldBack).toBe(1);
  });

  it('the quota slot is taken only by a call really sent: a call the breaker refuses gives it back', async () => {
    const child = new FakeChild(serverConfig('docs', { rateLimit: { calls: 2, per: '1m' }, breaker: { failureThreshold: 1 }, cache: { enabled: false } }));
    child.auto = (r) => r.fail(childFailure());
    const { pipeline, policies } = pipelineWith(child);
    await pipeline.run(write('1'), { signal: live() }); // sent, failed: the breaker opens
    expect(policies.breaker.state.kind).toBe('open');
    expect(textOf(await pipeline.run(write('2'), { signal: live() }))).toMatch(/^docs is unavailable: circuit open after 1 failures/);
    expect(child.received).toHaveLength(1);
    expect(policies.quota!.take()).toBe(true); // the refused call left its slot: one of two is used, not both
    expect(policies.quota!.take()).toBe(false);
  });

  it('an open breaker refuses at once: a call does not wait for a place in the queue only to be refused', async () => {
    const child = new FakeChild(serverConfig('docs', { maxConcurrent: 1, maxQueue: 5, breaker: { failureThreshold: 1 }, cache: { enabled: false } }));
    const { pipeline, policies } = pipelineWith(child);
    const running = pipeline.run(write('1'), { signal: live() });
    await until(() => child.received.length === 1);
    policies.breaker.failure(policies.breaker.tryAcquire()!); // another call's failure opened it
    expect(textOf(await pipeline.run(write('2'), { signal: live() }))).toMatch(/^docs is unavailable: circuit open after 1 failures, next try in 30 s/);
    expect(policies.admission.describe()).toBe('1 running, 0 waiting; maxConcurrent 1, maxQueue 5');
    child.received[0]!.answer(ok('one'));
    expect(textOf(await running)).toBe('one');
  });

  it('the half-open probe is released when its caller cancels: the next call becomes the probe', async () => {
    const child = new FakeChild(serverConfig('docs', { breaker: { failureThreshold: 1, recoveryTimeoutMs: 1000, successThreshold: 1 }, cache: { enabled: false } }));
    const { pipeline, policies } = pipelineWith(child);
    const failing = pipeline.run(write('1'), { signal: live() });
    await until(() => child.received.length === 1);
    child.received[0]!.fail(childFailure());
    await failing;
    await vi.advanceTimersByTimeAsync(1000);
    const cancel = new AbortController();
    const probe = pipeline.run(write('2'), { signal: cancel.signal });
    await until(() => child.received.length === 2, 'the probe sent');
    expect(policies.breaker.state).toMatchObject({ kind: 'half-open', probing: true });
    cancel.abort(new Error('cancelled upstream'));
    await expect(probe).rejects.toThrow('cancelled upstream');
    expect(policies.breaker.state).toMatchObject({ kind: 'half-open', probing: false });
    const next = pipeline.run(write('3'), { signal: live() });
    await until(() => child.received.length === 3, 'the next probe sent');
    child.received[2]!.answer(ok('back'));
    expect(textOf(await next)).toBe('back');
    expect(policies.breaker.state.kind).toBe('closed');
  });
});

describe('retries', () => {
  const connectionClosed = () => new SdkError(SdkErrorCode.ConnectionClosed, 'Connection closed');

  it('a read-only call that met a transport failure is sent again after a short backoff, and its answer counts', async () => {
    const child = new FakeChild(serverConfig('docs', { cache: { enabled: false }, breaker: { failureThreshold: 1 } }));
    const { pipeline, policies } = pipelineWith(child);
    const result = pipeline.run(read('again'), { signal: live() });
    await until(() => child.received.length === 1);
    child.received[0]!.fail(connectionClosed());
    await vi.advanceTimersByTimeAsync(500); // the backoff: jittered, at most 500 ms
    expect(child.received).toHaveLength(2);
    child.received[1]!.answer(ok('second time'));
    expect(textOf(await result)).toBe('second time');
    expect(policies.breaker.state).toEqual({ kind: 'closed', failures: 0 });
  });

  it('is not made for a write, for an error that is the child\'s answer, past `retries`, or for a cancelled call', async () => {
    const child = new FakeChild(serverConfig('docs', { cache: { enabled: false }, retries: 2 }));
    const { pipeline } = pipelineWith(child);
    const sent = async (run: () => Promise<unknown>, fail: (n: number) => unknown) => {
      child.received.length = 0;
      child.auto = (r) => r.fail(fail(child.received.length));
      const done = run().catch(() => undefined);
      await vi.advanceTimersByTimeAsync(5000);
      await done;
      return child.received.length;
    };
    expect(await sent(() => pipeline.run(write('w'), { signal: live() }), connectionClosed)).toBe(1);
    expect(await sent(() => pipeline.run(read('r'), { signal: live() }), childFailure)).toBe(1);
    expect(await sent(() => pipeline.run(read('r'), { signal: live() }), connectionClosed)).toBe(3); // once, then `retries` (2) more
    expect(await sent(() => pipeline.run(read('r'), { signal: live() }), (n) => (n === 1 ? connectionClosed() : childFailure()))).toBe(2);
    const cancel = new AbortController();
    expect(await sent(() => pipeline.run(read('r'), { signal: cancel.signal }), () => (cancel.abort('stop'), connectionClosed()))).toBe(1);
  });
});

describe('single flight', () => {
  const config = () => serverConfig('docs', { breaker: { failureThreshold: 1 }, cache: { ttl: '1h' } });

  it('one of two identical callers cancelled: the other gets the child\'s answer, and the child call goes on', async () => {
    const child = new FakeChild(config());
    const { pipeline, policies } = pipelineWith(child, { store: new MemoryStore() });
    const gone = new AbortController();
    const first = pipeline.run(read('q'), { signal: gone.signal });
    const second = pipeline.run(read('q'), { signal: live() });
    await until(() => child.received.length === 1);
    gone.abort(new Error('cancelled upstream'));
    await expect(first).rejects.toThrow('cancelled upstream');
    expect(child.received[0]!.signal!.aborted).toBe(false);
    child.received[0]!.answer(ok('the answer'));
    expect(textOf(await second)).toBe('the answer');
    expect(child.received).toHaveLength(1);
    expect(policies.breaker.state).toEqual({ kind: 'closed', failures: 0 });
  });

  it('every caller cancelled: the shared child call is aborted, counting nothing against the child', async () => {
    const child = new FakeChild(config());
    const { pipeline, policies } = pipelineWith(child, { store: new MemoryStore() });
    const callers = [new AbortController(), new AbortController()];
    const pending = callers.map((c) => pipeline.run(read('q'), { signal: c.signal }));
    await until(() => child.received.length === 1);
    callers[0]!.abort();
    expect(child.received[0]!.signal!.aborted).toBe(false);
    callers[1]!.abort();
    expect(child.received[0]!.signal!.aborted).toBe(true);
    await Promise.allSettled(pending);
    expect(policies.breaker.state).toEqual({ kind: 'closed', failures: 0 });
    // A new identical call starts afresh rather than joining the cancelled one.
    const again = pipeline.run(read('q'), { signal: live() });
    await until(() => child.received.length === 2);
    child.received[1]!.answer(ok('fresh'));
    expect(textOf(await again)).toBe('fresh');
  });
});

describe('re-authentication', () => {
  it('concurrent 401s share one credential refresh and reconnect; a 401 from the old connection after it needs none', async () => {
    const child = new FakeChild(serverConfig('docs', { cache: { enabled: false } }));
    let reconnected!: () => void;
    const { pipeline, reauths } = pipelineWith(child, {
      reauthenticate: () => new Promise<void>((resolve) => (reconnected = () => (child.connection++, resolve()))),
    });
    const calls = [1, 2, 3, 4].map((i) => pipeline.run(write(`${i}`), { signal: live() }));
    await until(() => child.received.length === 4);
    child.received[0]!.fail(refusedCredentials());
    child.received[1]!.fail(refusedCredentials());
    await vi.advanceTimersByTimeAsync(0);
    child.received[2]!.fail(refusedCredentials()); // while the refresh is under way: joins it
    await vi.advanceTimersByTimeAsync(0);
    expect(reauths.count).toBe(1);
    reconnected();
    await until(() => child.received.length === 7, 'the three refused calls sent again');
    child.received[3]!.fail(refusedCredentials()); // sent before the reconnect, refused after it
    await until(() => child.received.length === 8, 'the fourth sent again');
    expect(reauths.count).toBe(1);
    for (const r of child.received.slice(4)) r.answer(ok(`after ${(r.params.arguments as { value: string }).value}`));
    expect((await Promise.all(calls)).map(textOf)).toEqual(['after 1', 'after 2', 'after 3', 'after 4']);
  });
});

describe('one failure path for every kind of request', () => {
  it('a tool answers with an isError result; a resource, a prompt and a forwarded request with a JSON-RPC error', async () => {
    const child = new FakeChild(serverConfig('docs', { cache: { enabled: false }, breaker: { failureThreshold: 10 } }));
    child.auto = (r) => r.fail(childFailure());
    const { pipeline } = pipelineWith(child);
    const seen = events(pipeline);
    const tool = await pipeline.run(read('q'), { signal: live() });
    expect(tool).toEqual({ content: [{ type: 'text', text: 'docs is unavailable: it answered with an error: upstream API is down; no cached answer for this call.' }], isError: true });
    for (const request of [
      { kind: 'resource' as const, params: { uri: 'docs://readme' } },
      { kind: 'prompt' as const, params: { name: 'docs__greet' } },
      { kind: 'forward' as const, child, method: 'completion/complete', params: {} },
    ]) {
      await expect(pipeline.run(request, { signal: live() })).rejects.toMatchObject({ code: ErrorCode.InternalError, message: 'upstream API is down' });
    }
    expect(child.received.map((r) => r.method)).toEqual(['tools/call', 'resources/read', 'prompts/get', 'completion/complete']);
    expect(seen.map((e) => [e.kind, e.outcome])).toEqual([['tool', 'error'], ['resource', 'error'], ['prompt', 'error']]); // forwarded requests are not recorded
  });

  it('a resource with a stale copy is answered from it, marked, as the child sent it', async () => {
    const child = new FakeChild(serverConfig('docs', { cache: { ttl: 1000, staleTtl: '1h' } }));
    const { pipeline } = pipelineWith(child, { store: new MemoryStore() });
    const contents = { contents: [{ uri: 'docs://readme', text: 'hello' }] };
    child.auto = (r) => r.answer(contents);
    expect(await pipeline.run({ kind: 'resource', params: { uri: 'docs://readme' } }, { signal: live() })).toEqual(contents);
    await vi.advanceTimersByTimeAsync(1000);
    child.auto = (r) => r.fail(childFailure());
    const stale = await pipeline.run({ kind: 'resource', params: { uri: 'docs://readme' } }, { signal: live() });
    expect(stale).toEqual({ ...contents, _meta: { 'mcpx/cache': { status: 'stale', ageMs: 1000, server: 'docs', reason: 'error' } } });
  });

  it('an unknown name is -32602, naming it', async () => {
    const { pipeline } = pipelineWith(new FakeChild(serverConfig('docs')));
    await expect(pipeline.run({ kind: 'tool', params: { name: 'nope__x' } }, { signal: live() })).rejects.toMatchObject({ code: ErrorCode.InvalidParams, message: expect.stringContaining('Unknown tool: nope__x') });
  });
});

describe('what is kept, and for how long', () => {
  it('a write landing while a read-only call is out: the read\'s answer is passed on, not kept', async () => {
    const child = new FakeChild(serverConfig('docs', { cache: { ttl: '1h' } }));
    const store = new MemoryStore();
    const { pipeline } = pipelineWith(child, { store });
    const slowRead = pipeline.run(read('q'), { signal: live() });
    await until(() => child.received.length === 1, 'the read sent');
    const landed = pipeline.run(write('new'), { signal: live() });
    await until(() => child.received.length === 2, 'the write sent');
    child.received[1]!.answer(ok('wrote new'));
    await landed;
    child.received[0]!.answer(ok('old value'));
    expect(textOf(await slowRead)).toBe('old value');
    expect(store.entries.size).toBe(0);
    await vi.advanceTimersByTimeAsync(1); // a read sent in the write's very millisecond cannot be told apart from one before it
    const next = pipeline.run(read('q'), { signal: live() });
    await until(() => child.received.length === 3, 'the next read sent to the child');
    child.received[2]!.answer(ok('new value'));
    expect(textOf(await next)).toBe('new value');
    // A read sent after the write is kept as before.
    expect(textOf(await pipeline.run(read('q'), { signal: live() }))).toBe('new value');
    expect(child.received).toHaveLength(3);
  });

  it('no cache block: a read-only tool of a 2025-era child answers every time; a 2026 child\'s ttlMs advice is kept that long', async () => {
    const child = new FakeChild(serverConfig('docs'));
    child.era = 'legacy';
    const store = new MemoryStore();
    const { pipeline } = pipelineWith(child, { store });
    child.auto = (r) => r.answer(ok(`answer ${child.received.length}`));
    expect(textOf(await pipeline.run(read('q'), { signal: live() }))).toBe('answer 1');
    expect(textOf(await pipeline.run(read('q'), { signal: live() }))).toBe('answer 2');
    expect(store.entries.size).toBe(0);

    child.era = 'modern';
    child.auto = (r) => r.answer(ok(`answer ${child.received.length}`));
    expect(textOf(await pipeline.run(read('q'), { signal: live() }))).toBe('answer 3'); // no advice: not kept
    expect(textOf(await pipeline.run(read('q'), { signal: live() }))).toBe('answer 4');
    child.auto = (r) => r.answer(liftCacheAdvice({ ...ok(`answer ${child.received.length}`), ttlMs: 5000 }));
    expect(textOf(await pipeline.run(read('q'), { signal: live() }))).toBe('answer 5');
    expect(textOf(await pipeline.run(read('q'), { signal: live() }))).toBe('answer 5'); // kept: the child advised 5 s
    await vi.advanceTimersByTimeAsync(5000);
    expect(textOf(await pipeline.run(read('q'), { signal: live() }))).toBe('answer 6');
  });

  it('no cache block, a call that comes while a 2025-era child is still connecting: nothing is looked up, no cache miss counted (its era is known from the setting or the stored verdict)', async () => {
    for (const [entry, storedEra] of [[{}, 'legacy'], [{ protocol: 'legacy' }, undefined]] as const) {
      const child = new FakeChild(serverConfig('docs', entry));
      child.era = undefined; // not connected yet
      child.storedEra = storedEra;
      const store = new MemoryStore();
      const get = vi.spyOn(store, 'get');
      const { pipeline } = pipelineWith(child, { store });
      const events: CallEvent[] = [];
      pipeline.on('call', (e: CallEvent) => events.push(e));
      child.auto = (r) => r.answer(ok('answer'));
      expect(textOf(await pipeline.run(read('q'), { signal: live() }))).toBe('answer');
      expect(get).not.toHaveBeenCalled();
      expect(events.map((e) => e.cacheable)).toEqual([false]);
    }
    // Nothing known yet (first start, protocol auto): it may be a 2026 child whose ttlMs advice is kept, so it is looked up.
    const child = new FakeChild(serverConfig('docs'));
    child.era = undefined;
    const store = new MemoryStore();
    const get = vi.spyOn(store, 'get');
    const { pipeline } = pipelineWith(child, { store });
    child.auto = (r) => r.answer(ok('answer'));
    await pipeline.run(read('q'), { signal: live() });
    expect(get).toHaveBeenCalled();
  });

  it('cache.tools.NAME alone makes that tool cached; a resource is cached only when the server\'s cache block asks', async () => {
    const child = new FakeChild(serverConfig('docs', { cache: { tools: { read: { ttl: '10m' } } } }));
    child.era = 'legacy';
    const store = new MemoryStore();
    const { pipeline } = pipelineWith(child, { store });
    child.auto = (r) => r.answer(r.method === 'resources/read' ? { contents: [{ uri: 'docs://a', text: `v${child.received.length}` }] } : ok(`answer ${child.received.length}`));
    await pipeline.run(read('q'), { signal: live() });
    expect(textOf(await pipeline.run(read('q'), { signal: live() }))).toBe('answer 1');
    const resource = { kind: 'resource' as const, params: { uri: 'docs://a' } };
    await pipeline.run(resource, { signal: live() });
    await pipeline.run(resource, { signal: live() });
    expect(child.received.map((r) => r.method)).toEqual(['tools/call', 'resources/read', 'resources/read']);
  });

  it('a cached tool answer gets a text item saying so once it is cache.noteAfter old, and not before', async () => {
    const child = new FakeChild(serverConfig('docs', { cache: { ttl: '1h', noteAfter: '60s' } }));
    const { pipeline } = pipelineWith(child, { store: new MemoryStore() });
    const sent = { content: [{ type: 'text', text: '{"n":1}' }], structuredContent: { n: 1 } };
    child.auto = (r) => r.answer(structuredClone(sent));
    expect(await pipeline.run(read('q'), { signal: live() })).toEqual(sent); // fresh: as the child sent it
    await vi.advanceTimersByTimeAsync(59_999);
    const young = await pipeline.run(read('q'), { signal: live() });
    expect(young).toEqual({ ...sent, _meta: { 'mcpx/cache': { status: 'hit', ageMs: 59_999, server: 'docs' } } });
    await vi.advanceTimersByTimeAsync(1);
    const old = await pipeline.run(read('q'), { signal: live() });
    expect(old).toEqual({
      content: [...sent.content, { type: 'text', text: '[mcpx] Cached answer: docs gave it 1 min ago; it may be out of date.' }],
      structuredContent: { n: 1 },
      _meta: { 'mcpx/cache': { status: 'hit', ageMs: 60_000, server: 'docs' } },
    });
    expect(child.received).toHaveLength(1);
  });
});
