// Helpers for tests that run `mcpx serve` as a real process and talk to it with the SDK client.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const MCPX = join(ROOT, 'bin/mcpx.js');
export const CHILD = join(ROOT, 'test/fixtures/child.mjs');
export const WRAPPER = join(ROOT, 'test/fixtures/npx-wrapper.mjs');
export const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');

export function tempDir(prefix = 'mcpx-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A unique word put on the command line of every process a test starts, to find leftovers. */
export function marker(): string {
  return `mcpx-marker-${randomUUID().slice(0, 8)}`;
}

/** A config entry for the fixture child (test/fixtures/child.mjs). */
export function fixture(name: string, env: Record<string, string> = {}, extra: Record<string, unknown> = {}, mark?: string) {
  return { command: process.execPath, args: [CHILD, ...(mark ? [mark] : [])], env: { NAME: name, ...env }, ...extra };
}

export interface Mcpx {
  client: Client;
  dir: string;
  configFile: string;
  pid: number;
  stderr: () => string;
  close: () => Promise<void>;
}

export interface StartOptions {
  capabilities?: ClientCapabilities;
  env?: Record<string, string>;
  /** Directory to write mcpx.json into (default: a new temp dir). */
  dir?: string;
  args?: string[];
}

export function writeConfig(config: unknown, dir = tempDir()): string {
  const file = join(dir, 'mcpx.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/** Starts `mcpx serve --config <temp>/mcpx.json` and connects an SDK client to it. */
export async function startMcpx(config: unknown, opts: StartOptions = {}): Promise<Mcpx> {
  const dir = opts.dir ?? tempDir();
  const configFile = writeConfig(config, dir);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MCPX, 'serve', '--config', configFile, ...(opts.args ?? [])],
    env: { ...(process.env as Record<string, string>), MCPX_STATE_DIR: join(dir, 'state'), MCPX_CACHE_DIR: join(dir, 'cache'), ...opts.env },
    stderr: 'pipe',
    cwd: dir,
  });
  let err = '';
  transport.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const client = new Client({ name: 'test', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
  await client.connect(transport);
  return {
    client,
    dir,
    configFile,
    pid: transport.pid!,
    stderr: () => err,
    close: () => client.close(),
  };
}

export { processesWith } from '../../src/util/proc.js';

export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 5000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export function text(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}

/** Tool calls the fixture child has served so far (its `calls` tool is never cached: not read-only). */
export async function upstreamCalls(m: Mcpx, prefix: string): Promise<number> {
  return Number(text(await m.client.callTool({ name: `${prefix}__calls`, arguments: {} })));
}

/** The `_meta["mcpx/cache"]` marker of an answer (hit, stale, fallback), if any. */
export const cacheMeta = (r: unknown) => ((r as { _meta?: Record<string, unknown> })._meta ?? {})['mcpx/cache'] as Record<string, unknown> | undefined;

/**
 * mcpx processes for one test file: `start` them, `stop` one early if the test needs to; every one
 * still running is closed after each test.
 */
export function mcpxSessions(afterEach: (fn: () => Promise<void>) => void) {
  const open: Mcpx[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((m) => m.close()));
  });
  return {
    async start(config: unknown, opts: StartOptions = {}): Promise<Mcpx> {
      const m = await startMcpx(config, opts);
      open.push(m);
      return m;
    },
    /** Closes one now (or forgets it when the test killed it). */
    async stop(m: Mcpx, killed = false): Promise<void> {
      open.splice(open.indexOf(m), 1);
      if (!killed) await m.close();
    },
  };
}
