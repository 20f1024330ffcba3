// The one route of forwarded requests (server/forward.ts past the SDK Server, children/raw.ts past the
// SDK Client) writes the bytes the SDK Server and Client wrote for the same requests, recorded in
// golden/route-*.json when mcpx still had both routes (the SDK's with MCPX_FASTPATH=0): text, image,
// structuredContent, isError, `_meta`, a 1 MB answer of é, 漢字 and emoji cut inside characters, cache
// hits, progress, a read, a prompt, the child's error, an unknown tool, every list (a cursor too),
// completions, subscriptions. Both for a 2025 client and for a 2026-07-28 one (Claude Code 2.x:
// discover first, every request with the envelope), whose session adds an input_required round, a
// cancel, an envelope the SDK refuses, and lists with ttlMs. An answer over 4 KB is held by its sha256.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, marker, rawServe, rawSessions, tempDir, waitFor, writeConfig } from '../helpers/mcpx.js';
import { request as modernRequest } from '../helpers/modern.js';

type Session = ReturnType<typeof rawServe>;
const mark = marker();
const serveRaw = rawSessions(afterEach, mark);

const unit = 'aé漢字😀';
const times = Math.ceil((1 << 20) / Buffer.byteLength(unit)); // just over 1 MB
const image = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) % 256)).toString('base64');
const mirror = (result: unknown) => ['tools/call', { name: 'fx__mirror', arguments: { result } }] as const;

type Request = readonly [string, Record<string, unknown> | undefined];
/** The same requests, in order, for both runs (the ids are the same too). */
const REQUESTS: Request[] = [
  ['tools/call', { name: 'fx__echo', arguments: { text: 'héllo 漢字 😀 "quoted" \\ \n' } }], // text, and the child's `_meta`
  mirror({ content: [{ type: 'image', data: image, mimeType: 'image/png' }] }),
  mirror({ content: [{ type: 'text', text: '{"n":1}' }], structuredContent: { n: 1, nested: { a: [1, 'é', null, 2.5, -0.001, 1e21] } } }),
  ['tools/call', { name: 'fx__fail', arguments: {} }], // isError: passed on, never cached
  mirror({ content: [{ type: 'text', text: 'x', annotations: { audience: ['user'] }, _meta: { inner: true } }], _meta: { outer: { k: 'v' }, 'vendor.example/x': 1 }, extra: 'kept' }),
  ['tools/call', { name: 'fx__unicode', arguments: { unit, times } }],
  ['tools/call', { name: 'fx__unicode', arguments: { unit, times } }], // a cache hit, marked
  mirror({ content: [{ type: 'image', data: image, mimeType: 'image/png' }] }), // a hit too
  ['tools/call', { name: 'fx__slow', arguments: { ms: 30, steps: 3 }, _meta: { progressToken: 'p-1' } }],
  ['resources/read', { uri: 'fixture://fx/readme' }],
  ['resources/read', { uri: 'fixture://missing' }], // the child's JSON-RPC error
  ['prompts/get', { name: 'fx__greet', arguments: { who: 'Zoë' } }],
  ['tools/call', { name: 'fx__nope', arguments: {} }], // unknown: an error from mcpx
  ['tools/list', undefined], // warm: pre-serialised by the route
];

/** Requests of both eras after the rest: lists with a cursor, completions, subscriptions, a vendor `_meta`. */
const EXTRA: Request[] = [
  ['tools/list', { cursor: 'next' }],
  ['prompts/list', undefined],
  ['resources/list', { cursor: 'c' }],
  ['resources/templates/list', undefined],
  ['completion/complete', { ref: { type: 'ref/prompt', name: 'fx__greet' }, argument: { name: 'who', value: 'Z' } }],
  ['completion/complete', { ref: { type: 'ref/prompt', name: 'nope' }, argument: { name: 'who', value: 'Z' } }],
  ['resources/subscribe', { uri: 'fixture://fx/readme' }],
  ['resources/unsubscribe', { uri: 'fixture://fx/readme' }],
  ['tools/call', { name: 'fx__echo', arguments: { text: 'meta' }, _meta: { 'vendor.example/k': 'v' } }],
];

type Line = { bytes: Buffer; m: { id?: unknown; method?: string; params?: { progressToken?: unknown }; result?: Record<string, any> } };

/**
 * A 2026-07-28 client's further requests: a child's elicitation as input_required and the retry that
 * answers it (its requestState read from the answer before), the lists (with ttlMs: 0), and, after a
 * listen stream for tool changes opens, a tools/list good for a day.
 */
const MODERN: (Request | ((got: Line[], id: number) => Request))[] = [
  ['tools/call', { name: 'fx__ask', arguments: {} }],
  (got, id) => ['tools/call', { name: 'fx__ask', arguments: {}, inputResponses: { input: { action: 'accept', content: { name: 'Zoë' } } }, requestState: got.find((l) => l.m.id === id - 1)!.m.result!.requestState }],
  ['prompts/list', undefined],
  ['resources/list', undefined],
  ['resources/templates/list', undefined],
  ['tools/call', { name: 'fx__slow', arguments: { ms: 30, steps: 2 }, _meta: { progressToken: 'p-2', 'vendor.example/trace': 'kept' } }],
  // An envelope the SDK refuses (no such log level): its refusal on both paths; a valid log level is taken.
  ['tools/call', { name: 'fx__echo', arguments: { text: 'x' }, _meta: { 'io.modelcontextprotocol/logLevel': 'loud' } }],
  ['tools/call', { name: 'fx__echo', arguments: { text: 'y' }, _meta: { 'io.modelcontextprotocol/logLevel': 'debug' } }],
];

/** Lines of stdout as bytes, each with its parsed message. */
function lines(s: Session): Line[] {
  const all = s.stdoutBytes();
  const out = [];
  for (let start = 0; start < all.length; ) {
    const nl = all.indexOf(0x0a, start);
    const end = nl === -1 ? all.length : nl;
    const bytes = all.subarray(start, end);
    if (bytes.length) out.push({ bytes, m: JSON.parse(bytes.toString('utf8')) });
    start = end + 1;
  }
  return out;
}

/** One mcpx in front of one fixture child; every request answered in turn, by a 2025 or a 2026-07-28 client; its lines and log. */
async function run(era: 'legacy' | 'modern' = 'legacy') {
  const dir = tempDir();
  const file = writeConfig({ mcpServers: { fx: fixture('fx', { BYTES_TOOLS: '1', SPLIT_WRITES: '4000', DELAY_MS: '30' }, { cache: { ttl: '1h' }, maxOutputTokens: 0 }, mark) }, cache: { maxEntryBytes: 4 << 20 } }, dir);
  const s = serveRaw(file, dir);
  const send = (id: number | string, method: string, params?: Record<string, unknown>) =>
    era === 'modern' ? modernRequest(s, id, method, params) : s.send({ jsonrpc: '2.0', id, method, ...(params && { params }) });
  const answered = (id: number) => waitFor(() => lines(s).find((l) => l.m.id === id && l.m.method === undefined), 15_000, `answer ${id}`);
  if (era === 'modern') send(1, 'server/discover');
  else send(1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bytes', version: '1' } });
  await answered(1);
  if (era === 'legacy') s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  // Until the child is up (its tools listed), so that both runs list the same.
  let id = 10;
  await waitFor(async () => {
    const n = id++;
    send(n, 'tools/list');
    return (await answered(n)).m.result?.tools.some((t: { name: string }) => t.name === 'fx__request_id');
  }, 15_000, 'the child listed');
  send(99, 'tools/call', { name: 'fx__request_id', arguments: {} });
  const childId = JSON.parse((await answered(99)).m.result!.content[0].text) as number;
  const steps = era === 'modern' ? [...REQUESTS, ...MODERN, ...EXTRA] : [...REQUESTS, ...EXTRA];
  const sent: Request[] = [];
  for (const [i, step] of steps.entries()) {
    const [method, params] = typeof step === 'function' ? step(lines(s), 100 + i) : step;
    sent.push([method, params]);
    send(100 + i, method, params);
    await answered(100 + i);
  }
  let cancelled: string | undefined;
  if (era === 'modern') {
    // A long call cancelled: no answer on either path, and the child hears of it.
    send(300, 'tools/call', { name: 'fx__slow', arguments: { ms: 30_000, steps: 100 }, _meta: { progressToken: 'p-cancel' } });
    await waitFor(() => lines(s).some((l) => l.m.params?.progressToken === 'p-cancel'), 15_000, 'the long call to reach the child');
    s.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 300, reason: 'user' } });
    let n = 400;
    cancelled = await waitFor(async () => {
      const k = n++;
      send(k, 'tools/call', { name: 'fx__cancelled', arguments: {} });
      const text = (await answered(k)).m.result!.content[0].text as string;
      return text === '1' && text;
    }, 15_000, 'the child to see the cancel');
    // A listen stream for tool changes: the list is good for a day now.
    send('L', 'subscriptions/listen', { notifications: { toolsListChanged: true } });
    await waitFor(() => lines(s).some((l) => l.m.method === 'notifications/subscriptions/acknowledged'), 10_000, 'the listen ack');
    sent.push(['tools/list', undefined]);
    send(100 + steps.length, 'tools/list');
    await answered(100 + steps.length);
  }
  const got = lines(s);
  const log = join(dir, 'state', 'mcpx.log');
  const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
  return {
    sent,
    answers: sent.map((_, i) => got.find((l) => l.m.id === 100 + i && l.m.method === undefined)!.bytes),
    progress: got.filter((l) => l.m.method === 'notifications/progress' && l.m.params?.progressToken !== 'p-cancel').map((l) => l.bytes),
    cancelledAnswered: got.some((l) => l.m.id === 300 && l.m.method === undefined),
    cancelled,
    childId,
    early: text.includes(`(id 1) answered before the SDK was loaded`),
  };
}

type Golden = { answers: (string | { bytes: number; sha256: string })[]; progress: string[] };
const golden = (era: string): Golden => JSON.parse(readFileSync(new URL(`./golden/route-${era}.json`, import.meta.url), 'utf8'));

/** The route's answers against the SDK's, byte for byte (latin1 keeps every byte), but for times and single-use keys. */
function expectSdkBytes(got: Awaited<ReturnType<typeof run>>, sdk: Golden): void {
  // The age of a cache hit is a time; a requestState a random key.
  const mask = (b: Buffer) => b.toString('latin1').replace(/"ageMs":\d+/, '"ageMs":N').replace(/"requestState":"[^"]*"/g, '"requestState":S');
  expect(got.answers).toHaveLength(sdk.answers.length);
  for (const [i, [method, params]] of got.sent.entries()) {
    const what = `${i}: ${method} ${JSON.stringify(params ?? {}).slice(0, 80)}`;
    const a = mask(got.answers[i]!);
    const b = sdk.answers[i]!;
    if (typeof b === 'string') expect(a, what).toBe(b);
    else expect({ bytes: a.length, sha256: createHash('sha256').update(a, 'latin1').digest('hex') }, what).toEqual(b);
  }
  expect(got.progress.map((b) => b.toString('latin1'))).toEqual(sdk.progress);
  // The calls went past the SDK Client (raw.ts's own ids), and the first answer was written before the SDK loaded.
  expect(got.childId).toBeGreaterThanOrEqual(1_000_000_000);
  expect(got.early).toBe(true);
}

describe('the one route of forwarded requests', () => {
  it('writes the SDK\'s bytes for a 2025 client, progress included', async () => {
    const got = await run();
    expectSdkBytes(got, golden('legacy'));
    expect(got.progress).toHaveLength(3);

    const parsed = got.answers.map((b) => JSON.parse(b.toString('utf8')));
    expect(parsed[0].result).toEqual({ content: [{ type: 'text', text: 'fx: héllo 漢字 😀 "quoted" \\ \n' }], _meta: { from: 'fx' } });
    expect(parsed[1].result.content[0].data).toBe(image);
    expect(parsed[3].result.isError).toBe(true);
    expect(parsed[4].result.extra).toBe('kept');
    expect(Buffer.byteLength(parsed[5].result.content[0].text)).toBe(Buffer.byteLength(unit) * times);
    expect(parsed[5].result._meta?.['mcpx/cache']).toBeUndefined();
    expect(parsed[6].result._meta['mcpx/cache'].status).toBe('hit');
    expect(parsed[7].result._meta['mcpx/cache'].status).toBe('hit');
    expect(parsed[10].error.code).toBe(-32602);
    expect(parsed[12].error.code).toBe(-32602);
    expect(parsed[13].result.tools.map((t: { name: string }) => t.name)).toContain('fx__mirror');
    expect(parsed[19].error.message).toBe('Unknown prompt: nope');
  }, 60_000);

  it('writes the SDK\'s bytes for a 2026-07-28 client: envelopes, input_required, cancel, lists with ttlMs', async () => {
    const got = await run('modern');
    expectSdkBytes(got, golden('modern'));
    expect(got.progress).toHaveLength(5); // p-1's three, p-2's two

    const parsed = got.answers.map((b) => JSON.parse(b.toString('utf8')));
    const serverInfo = { 'io.modelcontextprotocol/serverInfo': { name: 'mcpx', version: '0.1.0' } };
    expect(parsed[0].result).toEqual({ content: [{ type: 'text', text: 'fx: héllo 漢字 😀 "quoted" \\ \n' }], _meta: { from: 'fx', ...serverInfo }, resultType: 'complete' });
    expect(parsed[1].result).toMatchObject({ resultType: 'complete', _meta: serverInfo });
    expect(parsed[1].result.content[0].data).toBe(image);
    expect(parsed[3].result.isError).toBe(true);
    expect(parsed[4].result.extra).toBe('kept');
    expect(Buffer.byteLength(parsed[5].result.content[0].text)).toBe(Buffer.byteLength(unit) * times);
    expect(parsed[6].result._meta['mcpx/cache'].status).toBe('hit');
    expect(parsed[9].result).toMatchObject({ resultType: 'complete', ttlMs: 0, cacheScope: 'private' }); // a read is cacheable
    expect(parsed[10].error.code).toBe(-32602);
    expect(parsed[12].error.code).toBe(-32602);
    expect(parsed[13].result).toMatchObject({ ttlMs: 0, cacheScope: 'private', resultType: 'complete' });
    const ask = parsed[14].result;
    expect(ask).toMatchObject({ resultType: 'input_required', inputRequests: { input: { method: 'elicitation/create' } } });
    expect(parsed[15].result).toMatchObject({ resultType: 'complete', content: [{ text: 'fx: accept {"name":"Zoë"}' }] });
    for (const i of [16, 17, 18]) expect(parsed[i].result).toMatchObject({ ttlMs: 0, cacheScope: 'private', resultType: 'complete' });
    expect(parsed[17].result.resources.map((r: { uri: string }) => r.uri)).toContain('mcpx://status');
    expect(parsed[19].result.content[0].text).toContain('slow done');
    expect(got.cancelledAnswered).toBe(false);
    expect(parsed[20].error.message).toContain('Invalid _meta envelope');
    expect(parsed[21].result.content[0].text).toBe('fx: y');
    expect(parsed[28].error.message).toBe('Method not found'); // resources/subscribe: a 2026 client listens instead
    expect(parsed.at(-1).result).toMatchObject({ ttlMs: 86_400_000, cacheScope: 'private', resultType: 'complete' });
  }, 90_000);
});

describe('a client that does not wait', () => {
  it("Claude Code's opening, written at once: discover, initialize, then a list and a call before any answer", async () => {
    const dir = tempDir();
    const file = writeConfig({ mcpServers: { fx: fixture('fx', {}, {}, mark) } }, dir);
    const s = serveRaw(file, dir);
    // Everything in one write: the route must wait for the SDK to take the initialize (the era, the client).
    modernRequest(s, 1, 'server/discover');
    s.send({ jsonrpc: '2.0', id: 2, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: { roots: {} }, clientInfo: { name: 'claude-code', version: '2' } } });
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    s.send({ jsonrpc: '2.0', id: 3, method: 'tools/list' });
    s.send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'fx__echo', arguments: { text: 'now' } } });
    const list = (await s.response(3)) as { result: { tools: { name: string }[]; resultType?: string } };
    // A 2025 answer (the connection is 2025 once initialized), to a client known by name (Claude Code: every tool, no search).
    expect(list.result.resultType).toBeUndefined();
    expect(list.result.tools.map((t) => t.name)).toContain('mcpx__status');
    // The child is started by the call itself: longer than one response wait.
    const echo = (await waitFor(() => s.response(4), 15_000, 'the call')) as { result: { content: { text: string }[]; resultType?: string } };
    expect(echo.result.resultType).toBeUndefined();
    expect(echo.result.content[0]!.text).toBe('fx: now');
    expect(((await s.response(1)) as { result: { supportedVersions: string[] } }).result.supportedVersions).toContain('2026-07-28');
  }, 30_000);
});
