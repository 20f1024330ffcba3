import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const TEMPLATES = join(ROOT, 'templates/standards');
const BIN = join(ROOT, 'bin/mcpx.js');

export interface StandardsProcess {
  client: Client;
  pid: number;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
}

const open: { client: Client; dirs: string[] }[] = [];
const temps: string[] = [];

/** Spawns `node bin/mcpx.js standards --dir ...` and connects a real SDK client over stdio. */
export async function startStandards(dirs: string[]): Promise<StandardsProcess> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'standards', ...dirs.flatMap((d) => ['--dir', d])],
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

/** For afterEach: closes every client (ending its server process) and removes temp dirs. */
export async function cleanup(): Promise<void> {
  await Promise.all(open.splice(0).map(({ client }) => client.close()));
  for (const dir of temps.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'mcpx-standards-'));
  temps.push(dir);
  return dir;
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
export function runMcpx(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c));
    child.stderr.on('data', (c: Buffer) => (stderr += c));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Resolves with the first value for which check() is true, or rejects after timeoutMs. */
export function waitFor<T>(what: string, poll: () => Promise<T>, check: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((done, fail) => {
    const attempt = async () => {
      const value = await poll();
      if (check(value)) return done(value);
      if (Date.now() > deadline) return fail(new Error(`timed out waiting for ${what}`));
      setTimeout(attempt, 50);
    };
    attempt().catch(fail);
  });
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}
