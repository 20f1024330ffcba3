// The child half of the forwarded requests' route (children/raw.ts) on a fake wire: what the SDK Client does for a request
// (ids, timeout reset by progress and capped by maxTotalTimeout, cancel sent to the child, the errors),
// and the child's result text kept only when it is exactly the result's JSON.
import { ProtocolError, SdkError, SdkErrorCode, type JSONRPCMessage } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RawRequests } from '../../src/children/raw.js';
import { rawJson } from '../../src/util/raw-json.js';

afterEach(() => vi.useRealTimers());

function wire() {
  const sent: Record<string, unknown>[] = [];
  const raw = new RawRequests(async (m) => void sent.push(m as never));
  /** The child answers: the line as it would write it, parsed as the framer would. */
  const answer = (text: string) => raw.take(JSON.parse(text) as JSONRPCMessage, text);
  return { raw, sent, answer };
}

describe('RawRequests', () => {
  it('sends its own ids, matches the answer, and keeps the result text only for the usual shapes', async () => {
    const { raw, sent, answer } = wire();
    const a = raw.request('tools/call', { name: 'echo', arguments: { text: 'é' } });
    const b = raw.request('tools/call', { name: 'echo' });
    const c = raw.request('tools/call', { name: 'echo' });
    expect(sent.map((m) => m.id)).toEqual([1_000_000_000, 1_000_000_001, 1_000_000_002]);
    expect(Object.keys(sent[0]!)).toEqual(['method', 'params', 'jsonrpc', 'id']);
    expect(answer('{"result":{"content":[{"type":"text","text":"é"}]},"jsonrpc":"2.0","id":1000000000}')).toBe(true);
    expect(answer('{"jsonrpc":"2.0","id":1000000001,"result":{"x":[1,2]}}\r')).toBe(true);
    expect(answer('{"id":1000000002,"jsonrpc":"2.0","result":{"y":1}}')).toBe(true); // another order: no text kept
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    expect(rawJson.get(ra)).toBe('{"content":[{"type":"text","text":"é"}]}');
    expect(rawJson.get(rb)).toBe('{"x":[1,2]}');
    expect(rawJson.get(rc)).toBeUndefined();
    expect(rc).toEqual({ y: 1 });
    expect(answer('{"result":{},"jsonrpc":"2.0","id":7}')).toBe(false); // not ours: the Client's
  });

  it('drops a stray resultType as the SDK\'s 2025 codec does (and keeps no text then)', async () => {
    const { raw, answer } = wire();
    const r = raw.request('tools/call', {});
    answer('{"result":{"content":[],"resultType":"complete"},"jsonrpc":"2.0","id":1000000000}');
    const result = await r;
    expect(result).toEqual({ content: [] });
    expect(rawJson.get(result)).toBeUndefined();
  });

  it('turns the child\'s error into the ProtocolError the Client would throw', async () => {
    const { raw, answer } = wire();
    const r = raw.request('resources/read', { uri: 'x://missing' });
    answer('{"jsonrpc":"2.0","id":1000000000,"error":{"code":-32603,"message":"boom","data":{"k":1}}}');
    const e = await r.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProtocolError);
    expect(e).toMatchObject({ code: -32603, data: { k: 1 } });
  });

  it('times out as the Client does: the child hears the cancel, progress resets the wait, maxTotalTimeout caps it', async () => {
    vi.useFakeTimers();
    const { raw, sent, answer } = wire();
    const progress: unknown[] = [];
    const r = raw.request('tools/call', { name: 'slow', _meta: { trace: 1 } }, { timeout: 100, resetTimeoutOnProgress: true, maxTotalTimeout: 250, onprogress: (p) => progress.push(p) });
    const settled = r.catch((e: unknown) => e);
    expect(sent[0]!.params).toEqual({ name: 'slow', _meta: { trace: 1, progressToken: 1_000_000_000 } });
    await vi.advanceTimersByTimeAsync(90);
    expect(answer('{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1000000000,"message":"m","progress":1,"extra":true}}')).toBe(true);
    expect(progress).toEqual([{ progress: 1, message: 'm' }]); // the Client's fields, in its order
    await vi.advanceTimersByTimeAsync(90); // 180 ms in: still waiting (the progress reset it)
    expect(sent).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(20); // 200 ms: 110 ms since the progress
    const e = await settled;
    expect(e).toBeInstanceOf(SdkError);
    expect((e as SdkError).code).toBe(SdkErrorCode.RequestTimeout);
    expect(sent[1]).toMatchObject({ method: 'notifications/cancelled', params: { requestId: 1_000_000_000 } });

    const capped = raw.request('tools/call', {}, { timeout: 100, resetTimeoutOnProgress: true, maxTotalTimeout: 150, onprogress: () => undefined });
    const cappedSettled = capped.catch((x: unknown) => x);
    await vi.advanceTimersByTimeAsync(95);
    answer('{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1000000001,"progress":1}}');
    await vi.advanceTimersByTimeAsync(60);
    answer('{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1000000001,"progress":2}}');
    expect(await cappedSettled).toMatchObject({ code: SdkErrorCode.RequestTimeout, message: expect.stringContaining('Maximum total timeout') });
  });

  it('a cancel by the caller reaches the child; a closed connection fails what waits', async () => {
    const { raw, sent } = wire();
    const abort = new AbortController();
    const r = raw.request('tools/call', {}, { signal: abort.signal });
    const w = raw.request('tools/call', {});
    abort.abort('user cancelled');
    expect(await r.catch((e: unknown) => e)).toBeInstanceOf(SdkError);
    expect(sent[2]).toEqual({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1_000_000_000, reason: 'user cancelled' } });
    raw.closeAll();
    expect(await w.catch((e: unknown) => e)).toMatchObject({ code: SdkErrorCode.ConnectionClosed });
  });
});

describe('RawRequests and a child that is not built on the SDK', () => {
  it('understands its ids and progress tokens echoed as strings, and keeps the result text', async () => {
    const { raw, answer } = wire();
    const progress: unknown[] = [];
    const r = raw.request('tools/call', { name: 'slow' }, { onprogress: (p) => progress.push(p) });
    expect(answer('{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":"1000000000","progress":1}}')).toBe(true);
    expect(answer('{"jsonrpc":"2.0","id":"1000000000","result":{"content":[]}}')).toBe(true);
    const result = await r;
    expect(progress).toEqual([{ progress: 1 }]);
    expect(rawJson.get(result)).toBe('{"content":[]}');
    expect(answer('{"jsonrpc":"2.0","id":"7","result":{}}')).toBe(false); // not ours
  });

  it('fails the request on a malformed response instead of throwing, and says why', async () => {
    const told: string[] = [];
    const raw = new RawRequests(async () => undefined, (why) => told.push(why));
    const take = (text: string) => raw.take(JSON.parse(text) as JSONRPCMessage, text);
    const a = raw.request('tools/call', {});
    const b = raw.request('tools/call', {});
    expect(take('{"jsonrpc":"2.0","id":1000000000,"error":null}')).toBe(true);
    expect(take('{"jsonrpc":"2.0","id":1000000001,"result":5}')).toBe(true);
    await expect(a).rejects.toMatchObject({ code: SdkErrorCode.InvalidResult, message: expect.stringContaining('malformed response: its error is null') });
    await expect(b).rejects.toBeInstanceOf(SdkError);
    expect(told).toHaveLength(2);
  });
});
