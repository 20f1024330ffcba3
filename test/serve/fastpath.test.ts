// Issue 13: the fast path (a 2025 client's calls answered past the SDK Server, sent to a 2025-era
// child past the SDK Client) and the SDK path (MCPX_FASTPATH=0) write the same bytes for the same
// calls: text, image, structuredContent, isError, `_meta`, a 1 MB answer of é, 漢字 and emoji cut
// inside characters, cache hits, progress, a read, a prompt, the child's error, an unknown tool, the list.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, marker, rawServe, rawSessions, tempDir, waitFor, writeConfig } from '../helpers/mcpx.js';

type Session = ReturnType<typeof rawServe>;
const mark = marker();
const serveRaw = rawSessions(afterEach, mark);

const unit = 'aé漢字😀';
const times = Math.ceil((1 << 20) / Buffer.byteLength(unit)); // just over 1 MB
const image = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) % 256)).toString('base64');
const mirror = (result: unknown) => ['tools/call', { name: 'fx__mirror', arguments: { result } }] as const;

/** The same requests, in order, for both runs (the ids are the same too). */
const REQUESTS: (readonly [string, Record<string, unknown> | undefined])[] = [
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
  ['tools/list', undefined], // warm: pre-serialised on the fast path
];

/** Lines of stdout as bytes, each with its parsed message. */
function lines(s: Session): { bytes: Buffer; m: { id?: unknown; method?: string; params?: { progressToken?: unknown } } }[] {
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

/** One mcpx in front of one fixture child; every request answered in turn; its lines and log. */
async function run(fastpath: '1' | '0') {
  const dir = tempDir();
  const file = writeConfig({ mcpServers: { fx: fixture('fx', { BYTES_TOOLS: '1', SPLIT_WRITES: '4000', DELAY_MS: '30' }, { cache: { ttl: '1h' } }, mark) }, cache: { maxEntryBytes: 4 << 20 } }, dir);
  const s = serveRaw(file, dir, { MCPX_FASTPATH: fastpath });
  s.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bytes', version: '1' } } });
  await s.response(1);
  s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  // Until the child is up (its tools listed), so that both runs list the same.
  let id = 10;
  await waitFor(async () => {
    const n = id++;
    s.send({ jsonrpc: '2.0', id: n, method: 'tools/list' });
    const r = (await s.response(n)) as { result?: { tools: { name: string }[] } };
    return r.result?.tools.some((t) => t.name === 'fx__request_id');
  }, 15_000, 'the child listed');
  s.send({ jsonrpc: '2.0', id: 99, method: 'tools/call', params: { name: 'fx__request_id', arguments: {} } });
  const childId = JSON.parse(((await s.response(99)) as { result: { content: { text: string }[] } }).result.content[0]!.text) as number;
  for (const [i, [method, params]] of REQUESTS.entries()) {
    s.send({ jsonrpc: '2.0', id: 100 + i, method, ...(params && { params }) });
    await waitFor(() => lines(s).some((l) => l.m.id === 100 + i), 15_000, `answer ${100 + i} (${method})`);
  }
  const got = lines(s);
  const log = join(dir, 'state', 'mcpx.log');
  return {
    answers: REQUESTS.map((_, i) => got.find((l) => l.m.id === 100 + i)!.bytes),
    progress: got.filter((l) => l.m.method === 'notifications/progress').map((l) => l.bytes),
    childId,
    announced: existsSync(log) && readFileSync(log, 'utf8').includes('fast path: answering'),
  };
}

describe('the fast path and the SDK path (MCPX_FASTPATH=0)', () => {
  it('write byte-identical answers, progress included, for the same calls', async () => {
    const fast = await run('1');
    const sdk = await run('0');
    // Each run took the path it was meant to: the fast one past the Client (its own ids) and the Server.
    expect(fast.childId).toBeGreaterThanOrEqual(1_000_000_000);
    expect(sdk.childId).toBeLessThan(1_000_000_000);
    expect(fast.announced).toBe(true);
    expect(sdk.announced).toBe(false);

    for (const [i, [method, params]] of REQUESTS.entries()) {
      const what = `${method} ${JSON.stringify(params ?? {}).slice(0, 80)}`;
      // Byte for byte (latin1 keeps every byte), but for the age of a cache hit, which is a time.
      const a = fast.answers[i]!.toString('latin1').replace(/"ageMs":\d+/, '"ageMs":N');
      const b = sdk.answers[i]!.toString('latin1').replace(/"ageMs":\d+/, '"ageMs":N');
      if (a.length < 4096) expect(a, what).toBe(b);
      else {
        let at = 0;
        while (at < a.length && a[at] === b[at]) at++;
        expect(a === b, `${what}: ${a.length} vs ${b.length} bytes, first difference at byte ${at}`).toBe(true);
      }
    }
    expect(fast.progress.map(String)).toEqual(sdk.progress.map(String));
    expect(fast.progress).toHaveLength(3);

    // What the answers are, read once (the same bytes on both paths, so the fast path's are checked).
    const parsed = fast.answers.map((b) => JSON.parse(b.toString('utf8')));
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
  }, 60_000);
});
