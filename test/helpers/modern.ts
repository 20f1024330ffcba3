// Helpers for the 2026-07-28 era in real-process tests: the modern fixture child's config entry, and a
// 2026-07-28 client spoken line by line over a rawServe session (every request carries the envelope).
import { join } from 'node:path';
import { expect } from 'vitest';
import { ROOT, text, waitFor } from './mcpx.js';

export const MODERN_CHILD = join(ROOT, 'test/fixtures/modern-child.mjs');

/** A config entry for the 2026-07-28-only fixture child (test/fixtures/modern-child.mjs). */
export function modern(name: string, logs: { spawn?: string; discover?: string }, extra: Record<string, unknown> = {}, mark?: string) {
  return {
    command: process.execPath,
    args: [MODERN_CHILD, ...(mark ? [mark] : [])],
    env: { NAME: name, ...(logs.spawn && { SPAWN_LOG: logs.spawn }), ...(logs.discover && { DISCOVER_LOG: logs.discover }) },
    ...extra,
  };
}

export type Msg = { id?: string | number; method?: string; params?: Record<string, any>; result?: any; error?: any };
/** What the modern helpers need of a rawServe session. */
export type Lines = { stdout: () => string; send: (msg: unknown) => unknown };

export const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'modern-host', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } },
};

export const messages = (s: Lines): Msg[] => s.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l));
export const answer = (s: Lines, id: string | number, ms = 15_000) =>
  waitFor(() => messages(s).find((m) => m.id === id && m.method === undefined), ms, `answer ${id}`);
/** A modern request: every one carries the envelope. */
export const request = (s: Lines, id: string | number, method: string, params: Record<string, any> = {}, caps: Record<string, unknown> = ENVELOPE['io.modelcontextprotocol/clientCapabilities']) =>
  s.send({ jsonrpc: '2.0', id, method, params: { ...params, _meta: { ...params._meta, ...ENVELOPE, 'io.modelcontextprotocol/clientCapabilities': caps } } });
export const call = async (s: Lines, id: string | number, method: string, params: Record<string, any> = {}, caps?: Record<string, unknown>) => {
  request(s, id, method, params, caps);
  return answer(s, id);
};

/** What a 2026-era host on the v2 client sees through mcpx serving child `a` (fixture 'alpha'): discover, list, call, and an elicitation it answered with `name`. */
export async function expectModernHost(client: { getProtocolEra(): string | undefined; getDiscoverResult(): { instructions?: string } | undefined; listTools(): Promise<{ tools: { name: string }[] }>; callTool(p: { name: string; arguments: Record<string, unknown> }): Promise<unknown> }, name: string): Promise<void> {
  expect(client.getProtocolEra()).toBe('modern');
  expect(client.getDiscoverResult()?.instructions).toContain('a (tools a__*)');
  const names = (await client.listTools()).tools.map((t) => t.name);
  expect(names).toEqual(expect.arrayContaining(['a__echo', 'mcpx__status']));
  expect(text(await client.callTool({ name: 'a__echo', arguments: { text: 'v2' } }))).toBe('alpha: v2');
  expect(text(await client.callTool({ name: 'a__ask', arguments: {} }))).toBe(`alpha: accept {"name":"${name}"}`);
}
