// The 2026-07-28-only fixture child (test/fixtures/modern-child.mjs) as a real process, reached directly
// with the v2 SDK client over mcpx's own child transport (as the migration will): it serves the modern
// era in full and refuses a 2025-era initialize. Our transport probes in place, so one connect is one
// process. (The SDK's StdioClientTransport would not do here: it probes on a sibling process, and it
// drops progress notifications read in the same chunk as their response.)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client, UnsupportedProtocolVersionError } from '@modelcontextprotocol/client';
import { StdioChildTransport } from '../../src/children/stdio.js';
import { tempDir, text, waitFor } from '../helpers/mcpx.js';
import { MODERN_CHILD } from '../helpers/modern.js';

const dir = tempDir();
const spawnLog = join(dir, 'spawns.log');
const spawnedPids = () => readFileSync(spawnLog, 'utf8').trim().split('\n').map(Number);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function connectTo(mode: 'legacy' | { pin: '2026-07-28' }) {
  const transport = new StdioChildTransport({
    server: 'nova',
    command: process.execPath,
    args: [MODERN_CHILD],
    env: { ...(process.env as Record<string, string>), NAME: 'nova', SPAWN_LOG: spawnLog },
    logDir: dir,
    maxMessageBytes: 1 << 20,
  });
  const client = new Client({ name: 'test', version: '1.0.0' }, { capabilities: { elicitation: { form: {}, url: {} } }, versionNegotiation: { mode } });
  return { client, transport, connected: client.connect(transport) };
}

describe('modern fixture child, pinned to 2026-07-28', () => {
  let client: Client;
  let pid: number;
  const elicited: unknown[] = [];
  const changed: string[] = [];

  beforeAll(async () => {
    const c = connectTo({ pin: '2026-07-28' });
    await c.connected;
    client = c.client;
    pid = c.transport.pid!;
    client.setRequestHandler('elicitation/create', async (req) => {
      elicited.push(req.params);
      return req.params.mode === 'url' ? { action: 'accept' } : { action: 'accept', content: { name: 'Ada' } };
    });
    client.setNotificationHandler('notifications/tools/list_changed', async () => void changed.push('tools'));
    client.setNotificationHandler('notifications/resources/updated', async (n) => void changed.push(n.params.uri));
  });

  afterAll(async () => {
    await client.close();
    expect(alive(pid)).toBe(false);
  });

  it('negotiates 2026-07-28 from its discover advertisement, in one process', async () => {
    expect(client.getProtocolEra()).toBe('modern');
    expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
    const discover = client.getDiscoverResult()!;
    expect(discover.supportedVersions).toEqual(['2026-07-28']);
    expect(discover.capabilities).toMatchObject({ tools: { listChanged: true }, resources: { subscribe: true } });
    expect(discover.instructions).toBe('nova: a 2026-07-28-only fixture');
    await client.listTools(); // the child has surely started and logged its pid by now
    expect(spawnedPids()).toEqual([pid]);
  });

  it('lists tools, resources, templates and prompts, with the caching fields of the era', async () => {
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toEqual(expect.arrayContaining(['echo', 'search', 'slow', 'ask', 'ask_url', 'add_tool', 'touch']));
    expect(tools.tools.find((t) => t.name === 'echo')).toMatchObject({ annotations: { readOnlyHint: true }, _meta: { fixture: 'nova' } });
    expect(tools).toMatchObject({ ttlMs: 0, cacheScope: 'private' });
    expect((await client.listResources()).resources.map((r) => r.uri)).toEqual(['fixture://nova/readme']);
    expect((await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toEqual(['fixture://nova/items/{id}']);
    const prompt = await client.getPrompt({ name: 'greet', arguments: { who: 'Bo' } });
    expect(prompt.messages.map((m) => m.content)).toEqual([{ type: 'text', text: 'nova greets Bo' }]);
  });

  it('calls tools: _meta kept, structuredContent, progress in order', async () => {
    const echo = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
    expect(text(echo)).toBe('nova: hi');
    expect(echo._meta).toMatchObject({ from: 'nova' });
    expect((await client.callTool({ name: 'structured' })).structuredContent).toEqual({ n: 42 });
    const progress: number[] = [];
    const slow = await client.callTool({ name: 'slow', arguments: { steps: 3, ms: 30 } }, { onprogress: (p) => void progress.push(p.progress) });
    expect(text(slow)).toBe('nova: slow done after 30 ms');
    expect(progress).toEqual([1, 2, 3]);
  });

  it('asks for input with input_required (form and URL mode), answered by the client', async () => {
    expect(text(await client.callTool({ name: 'ask' }))).toBe('nova: accept {"name":"Ada"}');
    expect(text(await client.callTool({ name: 'ask_url' }))).toBe('nova: signin accept');
    expect(elicited).toEqual([
      expect.objectContaining({ mode: 'form', message: 'Your name?' }),
      expect.objectContaining({ mode: 'url', url: 'https://example.com/nova/signin' }),
    ]);
  });

  it('sends list_changed and resources/updated through subscriptions/listen', async () => {
    const sub = await client.listen({ toolsListChanged: true, resourceSubscriptions: ['fixture://nova/readme'] });
    expect(sub.honoredFilter).toEqual({ toolsListChanged: true, resourceSubscriptions: ['fixture://nova/readme'] });
    await client.callTool({ name: 'add_tool' });
    await client.callTool({ name: 'touch' });
    await waitFor(() => changed.length === 2, 5000, 'both notifications');
    expect(changed).toEqual(['tools', 'fixture://nova/readme']);
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('added_1');
    await sub.close();
  });
});

describe('modern fixture child, reached by a 2025-era client', () => {
  it('refuses initialize with the unsupported-protocol-version error naming 2026-07-28', async () => {
    const before = spawnedPids().length;
    const c = connectTo('legacy');
    const error = await c.connected.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedProtocolVersionError);
    expect((error as UnsupportedProtocolVersionError).data).toMatchObject({ supported: ['2026-07-28'], requested: '2025-11-25' });
    await c.client.close();
    await c.transport.close();
    // A 2025-era client does not probe: one process, and it is gone.
    expect(spawnedPids()).toHaveLength(before + 1);
    expect(spawnedPids().some(alive)).toBe(false);
  });
});
