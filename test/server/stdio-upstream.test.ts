// The client's side of serve over stdio (src/server/stdio-upstream.ts): what it lets past the SDK's
// JSON-RPC schema unparsed is exactly what the schema accepts unchanged, and it reads lines as the
// SDK's StdioServerTransport does.
import { PassThrough } from 'node:stream';
import { parseJSONRPCMessage, type JSONRPCMessage } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { UpstreamStdioTransport, plainlyValid } from '../../src/server/stdio-upstream.js';

const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'a__echo', arguments: { text: 'é' } } };
const variants: unknown[] = [
  call,
  { ...call, id: 'x-1' },
  { ...call, id: 1.5 },
  { ...call, id: null },
  { ...call, id: 2 ** 60 },
  { ...call, extra: true },
  { ...call, jsonrpc: '1.0' },
  { ...call, method: 5 },
  { ...call, params: null },
  { ...call, params: [1] },
  { ...call, params: 'x' },
  { jsonrpc: '2.0', id: 1, method: 'tools/list' },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
  { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1, reason: 'user' } },
  { ...call, params: { ...call.params, _meta: { progressToken: 'p' } } },
  { ...call, params: { ...call.params, _meta: { progressToken: 7, 'vendor/x': { y: 1 } } } },
  { ...call, params: { ...call.params, _meta: { progressToken: 7.5 } } },
  { ...call, params: { ...call.params, _meta: { progressToken: null } } },
  { ...call, params: { ...call.params, _meta: { progressToken: {} } } },
  { ...call, params: { ...call.params, _meta: null } },
  { ...call, params: { ...call.params, _meta: [] } },
  { ...call, params: { ...call.params, _meta: { 'io.modelcontextprotocol/related-task': { taskId: 't' } } } },
  { ...call, params: { ...call.params, _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } } },
  { jsonrpc: '2.0', id: 3, result: { content: [] } },
  { jsonrpc: '2.0', id: 3, error: { code: -32603, message: 'x' } },
  [call],
  'text',
  null,
];

describe('plainlyValid', () => {
  it('lets past only what the SDK schema accepts, and the schema would give it back equal', () => {
    let passed = 0;
    for (const v of variants) {
      if (!plainlyValid(v)) continue;
      passed++;
      expect(parseJSONRPCMessage(v), JSON.stringify(v)).toEqual(v);
    }
    expect(passed).toBe(8); // the plain requests and notifications above; the rest go to the schema
  });
});

function transport(max = 1 << 20) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const t = new UpstreamStdioTransport(stdin, stdout, max);
  const got: JSONRPCMessage[] = [];
  const errors: string[] = [];
  let closed = false;
  t.onmessage = (m) => got.push(m);
  t.onerror = (e) => errors.push(e.message);
  t.onclose = () => (closed = true);
  return { t, stdin, stdout, got, errors, closed: () => closed };
}

describe('UpstreamStdioTransport', () => {
  it('reads lines as the SDK transport does: split chunks, CRLF, junk skipped, a refused message reported', async () => {
    const { t, stdin, got, errors } = transport();
    await t.start();
    const line = JSON.stringify(call);
    stdin.write(line.slice(0, 10));
    stdin.write(`${line.slice(10)}\r\nnot json\n{"jsonrpc":"2.0","id":null,"method":"x"}\n`);
    stdin.write('{"jsonrpc":"2.0","id":4,"result":{}}\n');
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual([call, { jsonrpc: '2.0', id: 4, result: {} }]);
    expect(errors).toHaveLength(1); // the null id: the schema's refusal
  });

  it('closes when more than maxBufferSize bytes wait unread, as the SDK transport does', async () => {
    const { t, stdin, errors, closed } = transport(64);
    await t.start();
    stdin.write('x'.repeat(65));
    await new Promise((r) => setImmediate(r));
    expect(errors[0]).toContain('exceeded maximum size of 64 bytes');
    expect(closed()).toBe(true);
  });

  it('writes one line per message, and a handler that throws does not stop the next message', async () => {
    const { t, stdin, stdout, got, errors } = transport();
    await t.start();
    let first = true;
    t.onmessage = (m) => {
      if (first) {
        first = false;
        throw new Error('handler failed');
      }
      got.push(m);
    };
    stdin.write(`${JSON.stringify(call)}\n${JSON.stringify({ ...call, id: 2 })}\n`);
    await new Promise((r) => setImmediate(r));
    expect(got.map((m) => (m as { id: number }).id)).toEqual([2]);
    expect(errors).toEqual(['handler failed']);
    await t.send({ jsonrpc: '2.0', id: 2, result: {} } as JSONRPCMessage);
    expect(stdout.read().toString()).toBe('{"jsonrpc":"2.0","id":2,"result":{}}\n');
  });
});
