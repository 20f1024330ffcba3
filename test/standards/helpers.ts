import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { MCPX, ROOT, runNode, tempDir as sharedTempDir, waitFor as waitUntil, type Ran } from '../helpers/mcpx.js';

export { ROOT, isRunning as isAlive } from '../helpers/mcpx.js';
export const TEMPLATES = join(ROOT, 'templates/standards');

export interface StandardsProcess {
  client: Client;
  pid: number;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
}

const open: { client: Client; dirs: string[] }[] = [];

/** Spawns `node bin/mcpx.js standards --dir ...` and connects a real SDK client over stdio. */
export async function startStandards(dirs: string[]): Promise<StandardsProcess> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [MCPX, 'standards', ...dirs.flatMap((d) => ['--dir', d])],
    stderr: 'pipe',
    cwd: ROOT,
  });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const client = new Client({ name: 'standards-test', version: '1.0.0' });
  await client.connect(transport);
  open.push({ client, dirs });
  return { client, pid: transport.pid!, stderr: () => stderr };
}

/** For afterEach: closes every client (ending its server process); temp dirs go when the file is done. */
export async function cleanup(): Promise<void> {
  await Promise.all(open.splice(0).map(({ client }) => client.close()));
}

export function tempDir(): string {
  return sharedTempDir('mcpx-standards-');
}

/** A private copy of the sample standards, safe to edit. */
export function copyOfTemplates(): string {
  const dir = tempDir();
  cpSync(TEMPLATES, dir, { recursive: true });
  return dir;
}

export async function callTool(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

export function textOf(result: CallToolResult): string {
  return result.content.map((c) => (c.type === 'text' ? c.text : '')).join('\n');
}

/** Runs the CLI to completion (for start-up failures). */
export function runMcpx(args: string[]): Promise<Ran> {
  return runNode([MCPX, ...args]);
}

/** Resolves with the first value for which check() is true, or rejects after timeoutMs. */
export async function waitFor<T>(what: string, poll: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const found = await waitUntil(async () => {
    const value = await poll();
    return check(value) && { value };
  }, timeoutMs, what);
  return found.value;
}
