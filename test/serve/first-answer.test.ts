// `initialize` (a 2025 client) and `server/discover` (a 2026-07-28 client, Claude Code 2.x) answered
// from mcpx's own state before the SDK is loaded (server/first-answer.ts) write the bytes the SDK
// Server writes, once, and the session goes on as before. Only a first message is answered early: the
// SDK's own answer is had by sending another message first (a ping; a notification with an envelope).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import { afterEach, describe, expect, it } from 'vitest';
import { LEGACY_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS } from '../../src/server/identity.js';
import { ENVELOPE, request } from '../helpers/modern.js';
import { fixture, marker, rawServe, rawSessions, startMcpx, tempDir, waitFor, writeConfig } from '../helpers/mcpx.js';

type Session = ReturnType<typeof rawServe>;
const mark = marker();
const serveRaw = rawSessions(afterEach, mark);

const lines = (s: Session) => s.stdout().split('\n').filter(Boolean);

/** A config whose child has instructions, stored by a first run (so that initialize carries them). */
async function configWithInstructions() {
  const dir = tempDir();
  const file = writeConfig({ mcpServers: { fx: fixture('fx', { INSTRUCTIONS: 'Use fx for « everything » 漢字.' }, {}, mark) } }, dir);
  const m = await startMcpx(undefined, { dir });
  await waitFor(async () => (await m.client.listTools()).tools.some((t) => t.name === 'fx__echo'), 15_000, 'fx listed');
  await m.close();
  return { dir, file };
}

/** The line mcpx writes for an initialize asking `version` (after a ping: the SDK's answer), and the session for more. */
async function initialize(dir: string, file: string, version: string, by: 'mcpx' | 'sdk' = 'mcpx') {
  const s = serveRaw(file, dir);
  if (by === 'sdk') {
    s.send({ jsonrpc: '2.0', id: 'ping-1', method: 'ping' });
    await s.response('ping-1' as never);
  }
  s.send({ jsonrpc: '2.0', id: 'init-1', method: 'initialize', params: { protocolVersion: version, capabilities: { roots: {} }, clientInfo: { name: 'early', version: '1' } } });
  await s.response('init-1' as never);
  return { s, first: lines(s).find((l) => JSON.parse(l).id === 'init-1')! };
}

describe('initialize answered before the SDK is loaded', () => {
  it('is the SDK Server\'s answer byte for byte, for a supported, an older and an unknown version', async () => {
    const { dir, file } = await configWithInstructions();
    for (const version of ['2025-06-18', '2024-11-05', '1999-01-01']) {
      const early = await initialize(dir, file, version);
      const sdk = await initialize(dir, file, version, 'sdk');
      expect(early.first, version).toBe(sdk.first);
      expect(JSON.parse(early.first).result.instructions).toContain('Use fx for « everything » 漢字.');
    }
    const log = readFileSync(join(dir, 'state', 'mcpx.log'), 'utf8');
    expect(log).toContain('serve: initialize (id "init-1") answered before the SDK was loaded');
  }, 60_000);

  it('is answered once; the SDK Server still learns the client (initialized starts the children, calls work)', async () => {
    const dir = tempDir();
    const file = writeConfig({ mcpServers: { fx: fixture('fx', {}, {}, mark) } }, dir);
    const { s } = await initialize(dir, file, '2025-06-18');
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    let id = 1;
    await waitFor(async () => {
      const n = id++;
      s.send({ jsonrpc: '2.0', id: n, method: 'tools/list' });
      return ((await s.response(n)) as { result: { tools: { name: string }[] } }).result.tools.some((t) => t.name === 'fx__echo');
    }, 15_000, 'fx listed');
    s.send({ jsonrpc: '2.0', id: 500, method: 'tools/call', params: { name: 'fx__echo', arguments: { text: 'after' } } });
    expect(await s.response(500)).toMatchObject({ result: { content: [{ type: 'text', text: 'fx: after' }] } });
    // The client's capabilities (roots) reached the SDK Server: a child's roots/list is put to the client.
    s.send({ jsonrpc: '2.0', id: 501, method: 'tools/call', params: { name: 'fx__roots', arguments: {} } });
    const ask = await waitFor(() => lines(s).map((l) => JSON.parse(l)).find((m) => m.method === 'roots/list'), 10_000, 'roots/list from mcpx');
    s.send({ jsonrpc: '2.0', id: ask.id, result: { roots: [{ uri: 'file:///early' }] } });
    expect(await s.response(501)).toMatchObject({ result: { content: [{ type: 'text', text: 'file:///early' }] } });
    expect(lines(s).filter((l) => JSON.parse(l).id === 'init-1')).toHaveLength(1);
    expect(existsSync(join(dir, 'state', 'mcpx.log'))).toBe(true);
  }, 30_000);

  it('a first server/discover: the SDK\'s answer byte for byte, merged instructions included; an envelope it might refuse is left to it', async () => {
    const { dir, file } = await configWithInstructions();
    const discover = async (by: 'mcpx' | 'sdk', caps: Record<string, unknown>) => {
      const s = serveRaw(file, dir);
      // A notification with an envelope first: the SDK pins the connection modern and answers the discover itself.
      if (by === 'sdk') s.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'none', _meta: ENVELOPE } });
      request(s, 'd-1', 'server/discover', {}, caps);
      const answer = () => lines(s).find((l) => JSON.parse(l).id === 'd-1');
      await waitFor(answer, 10_000, 'the discover answer');
      return answer()!;
    };
    const plain = ENVELOPE['io.modelcontextprotocol/clientCapabilities'];
    const early = await discover('mcpx', plain);
    expect(early).toBe(await discover('sdk', plain));
    expect(JSON.parse(early).result).toMatchObject({ supportedVersions: MODERN_PROTOCOL_VERSIONS, resultType: 'complete', instructions: expect.stringContaining('Use fx for « everything » 漢字.') });
    const log = () => readFileSync(join(dir, 'state', 'mcpx.log'), 'utf8');
    expect(log()).toContain('serve: server/discover (id "d-1") answered before the SDK was loaded');
    // roots.listChanged must be a boolean: the SDK answers an error, and mcpx left it to the SDK.
    const answered = log().split('answered before').length;
    // (The SDK words its refusal of a first message with the envelope's key and `data`; a pinned Server's is shorter.)
    const refused = JSON.parse(await discover('mcpx', { roots: { listChanged: 'yes' } }));
    expect(refused.error).toMatchObject({ code: -32602, message: expect.stringContaining('Invalid _meta envelope'), data: { envelope: { key: 'io.modelcontextprotocol/clientCapabilities.roots.listChanged' } } });
    expect(log().split('answered before').length).toBe(answered);
  }, 60_000);

  it('negotiates from the same versions as the SDK Server', () => {
    expect(LEGACY_PROTOCOL_VERSIONS).toEqual([...SUPPORTED_PROTOCOL_VERSIONS]);
  });
});
