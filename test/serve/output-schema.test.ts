// A 2026-07-28 child's tool whose output schema is not an object (an array here): the SDK's 2025 codec
// lists the schema wrapped for a 2025 client ({type:"object", properties:{result:…}}), so the call's
// structuredContent must come wrapped to match ({result:[…]}), or a
// validating 2025 client (the 1.x SDK Client) rejects every call. A 2026-07-28 client gets both as the
// child sent them.
import { afterEach, describe, expect, it } from 'vitest';
import { markedSessions, rawSessions, marker, tempDir, text, writeConfig } from '../helpers/mcpx.js';
import { call, modern } from '../helpers/modern.js';

const { sessions, mark } = markedSessions(afterEach);
const rawMark = marker();
const serveRaw = rawSessions(afterEach, rawMark);

describe('a non-object output schema of a 2026-07-28 child', () => {
  it('is called by a validating 2025 client (SDK 1.x) without a schema error', async () => {
    const m = await sessions.start({ mcpServers: { m: modern('modern', {}, { env: { NAME: 'modern', ARRAY_TOOL: '1' } }, mark()) } });
    const tool = (await m.client.listTools()).tools.find((t) => t.name === 'm__names');
    expect(tool?.outputSchema).toEqual({ type: 'object', properties: { result: { type: 'array', items: { type: 'string' } } }, required: ['result'] });
    // The 1.x Client validates structuredContent against that schema, and throws if it does not match.
    const r = await m.client.callTool({ name: 'm__names', arguments: {} });
    expect(r.structuredContent).toEqual({ result: ['ada', 'grace'] });
    expect(text(r)).toBe('["ada","grace"]');
    // An object schema's result is left as the child sent it.
    const s = await m.client.callTool({ name: 'm__structured', arguments: {} });
    expect(s.structuredContent).toEqual({ n: 42 });
  });

  it('reaches a 2026-07-28 client as the child sent it, schema and value', async () => {
    const dir = tempDir();
    const file = writeConfig({ mcpServers: { m: modern('modern', {}, { env: { NAME: 'modern', ARRAY_TOOL: '1' } }, rawMark) } }, dir);
    const s = serveRaw(file, dir);
    await call(s, 1, 'server/discover');
    const listed = await call(s, 2, 'tools/list');
    expect(listed.result.tools.find((t: { name: string }) => t.name === 'm__names')?.outputSchema).toEqual({ type: 'array', items: { type: 'string' } });
    const r = await call(s, 3, 'tools/call', { name: 'm__names', arguments: {} });
    expect(r.result.structuredContent).toEqual(['ada', 'grace']);
  });
});
