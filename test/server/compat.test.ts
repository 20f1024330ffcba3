// The compatibility rules between the eras (src/server/compat.ts), case by case.
import { describe, expect, it } from 'vitest';
import { InMemoryTransport, Server } from '@modelcontextprotocol/server';
import { legacyToolResult, legacyTools, needsLegacyWrap } from '../../src/server/compat.js';

describe('legacyToolResult: a call result for a 2025 client', () => {
  const array = { type: 'array', items: { type: 'string' } };
  it('wraps structuredContent when the listed schema was wrapped, or when the value is not an object', () => {
    expect(legacyToolResult({ content: [], structuredContent: ['a'] }, array)).toEqual({ content: [], structuredContent: { result: ['a'] } });
    expect(legacyToolResult({ content: [], structuredContent: { n: 1 } }, { anyOf: [{ type: 'object' }, { type: 'string' }] })).toEqual({ content: [], structuredContent: { result: { n: 1 } } });
    expect(legacyToolResult({ content: [], structuredContent: 5 }, undefined)).toEqual({ content: [], structuredContent: { result: 5 } });
    expect(legacyToolResult({ content: [], structuredContent: null }, { type: 'object' })).toEqual({ content: [], structuredContent: { result: null } });
  });

  it('leaves anything else as it is, the same object (so the child\'s bytes can still be written)', () => {
    for (const r of [{ content: [], structuredContent: { n: 1 } }, { content: [] }, { content: [], structuredContent: undefined }]) {
      expect(legacyToolResult(r, { type: 'object' })).toBe(r);
    }
    const noSchema = { content: [], structuredContent: { n: 1 } };
    expect(legacyToolResult(noSchema, undefined)).toBe(noSchema);
    expect(legacyToolResult('not a result', array)).toBe('not a result');
  });

  it('agrees with needsLegacyWrap about which schemas are wrapped', () => {
    expect(needsLegacyWrap({ outputSchema: array })).toBe(true);
    expect(needsLegacyWrap({ outputSchema: {} })).toBe(true); // a typeless root
    expect(needsLegacyWrap({ outputSchema: { type: 'object' } })).toBe(false);
    expect(needsLegacyWrap({})).toBe(false);
    expect(needsLegacyWrap({ outputSchema: [] })).toBe(false);
  });
});

describe('legacyTools: a tools list for a 2025 client', () => {
  /** What the SDK's own Server lists for a 2025 client, for the same tools (its 2025 codec). */
  async function sdkListing(tools: object[]): Promise<unknown> {
    const server = new Server({ name: 's', version: '1' }, { capabilities: { tools: {} } });
    server.setRequestHandler('tools/list', () => ({ tools }) as never);
    const [ours, theirs] = InMemoryTransport.createLinkedPair();
    const answer = new Promise<unknown>((resolve) => (theirs.onmessage = (m) => 'id' in m && m.id === 2 && resolve((m as { result: unknown }).result)));
    await server.connect(ours);
    await theirs.start();
    await theirs.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'c', version: '1' } } });
    await theirs.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    const result = await answer;
    await server.close();
    return result;
  }

  const input = { type: 'object' };
  const cases: Record<string, object> = {
    'an array': { type: 'array', items: { type: 'string' } },
    'a typeless root with $schema': { $schema: 'https://json-schema.org/draft/2020-12/schema', anyOf: [{ type: 'string' }, { type: 'number' }] },
    'same-document refs, data keywords and property names': {
      type: 'array',
      items: { $ref: '#/$defs/item' },
      $defs: { item: { type: 'object', properties: { $ref: { type: 'string', default: { $ref: '#/no' } }, self: { $ref: '#' } }, const: { $ref: '#/kept' } } },
    },
    'a subtree with its own $id': { type: 'array', items: { $id: 'https://example.com/item', $ref: '#/$defs/x', $defs: { x: { type: 'string' } } }, prefixItems: [{ $id: '#anchor', $ref: '#/$defs/y' }] },
    'a root with its own $id': { $id: 'https://example.com/root', type: 'array', items: { $ref: '#/$defs/x' } },
    'a 2019-09 recursive root': { $schema: 'https://json-schema.org/draft/2019-09/schema', type: 'array', items: { $recursiveRef: '#' } },
    'a 2019-09 recursive ref beside a $ref': { $schema: 'https://json-schema.org/draft/2019-09/schema', type: 'array', items: { $ref: '#/$defs/a', $recursiveRef: '#' }, $defs: { a: {} } },
  };
  for (const [what, outputSchema] of Object.entries(cases)) {
    it(`wraps ${what} as the SDK does`, async () => {
      const tools = [{ name: 'plain', inputSchema: input, outputSchema: { type: 'object' } }, { name: 't', inputSchema: input, outputSchema }];
      expect({ tools: legacyTools(tools) }).toEqual(await sdkListing(tools));
    });
  }

  it('gives the same array back when no tool needs a wrap (its JSON can be kept)', () => {
    const tools = [{ name: 'a', inputSchema: input }, { name: 'b', inputSchema: input, outputSchema: { type: 'object' } }];
    expect(legacyTools(tools)).toBe(tools);
  });
});
