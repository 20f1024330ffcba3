// Which of mcpx's requests to a Streamable HTTP child a child's request came with: the stream it arrived
// on, read as it passes (bytes unchanged, events split across chunks), its askers noted by tag.
import { describe, expect, it } from 'vitest';
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/client';
import { StreamCorrelation } from '../../src/children/streams.js';

function sse(chunks: string[]): Response {
  const enc = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({ start: (c) => (chunks.forEach((x) => c.enqueue(enc.encode(x))), c.close()) });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
}

describe('StreamCorrelation', () => {
  it("notes each request the child sends on one of our requests' streams against the askers of ours, once", async () => {
    const streams = new StreamCorrelation();
    const sent: unknown[] = [];
    const inner = { send: async (m: JSONRPCMessage, o?: unknown) => void sent.push([m, o]) } as unknown as Transport;
    const transport = streams.transport(inner);
    const alice = new Set([{}]);
    const tag = streams.tag(alice);
    await transport.send({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: {} }, { relatedRequestId: tag });
    expect(sent[0]).toEqual([{ jsonrpc: '2.0', id: 7, method: 'tools/call', params: {} }, { relatedRequestId: undefined }]); // the tag never reaches the wire

    const question = '{"method":"elicitation/create","params":{"message":"?"},"jsonrpc":"2.0","id":3}';
    const chunks = ['event: message\ndata: {"method":"notifications/progress","params":{}}\n\n', `event: message\ndata: ${question.slice(0, 20)}`, `${question.slice(20)}\n\n`];
    const fetch = streams.fetch(async () => sse(chunks));
    const res = await fetch('http://child/mcp', { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call' }) });
    const reader = res.body!.getReader();
    let passed = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) passed += new TextDecoder().decode(r.value);
    expect(passed).toBe(chunks.join(''));
    // The stream is over (its events were read): a late lookup finds nothing; read one before the end.
    expect(streams.askersOf(3)).toBeUndefined();

    const live = streams.fetch(async () => sse([`data: ${question}\n\n`]));
    const open = (await live('http://child/mcp', { method: 'POST', body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call' }) })).body!.getReader();
    await open.read();
    expect(streams.askersOf(3)).toBe(alice);
    expect(streams.askersOf(3)).toBeUndefined(); // once
    expect(streams.askersOf(99)).toBeUndefined(); // the GET stream's requests relate to none
  });
});
