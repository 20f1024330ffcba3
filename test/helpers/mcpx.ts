// The one shared test helper: paths, temp dirs (removed after each test file), the CLI as a real
// process, `mcpx serve` sessions (SDK client or raw JSON-RPC lines), waiting on conditions, and the
// process scan that proves nothing is left behind. Area helpers (test/cli, test/cache, test/standards)
// re-export from here and add only what is theirs.
import { spawn, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, vi } from 'vitest';
import { execa } from 'execa';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const MCPX = join(ROOT, 'bin/mcpx.js');
export const CHILD = join(ROOT, 'test/fixtures/child.mjs');
export const WRAPPER = join(ROOT, 'test/fixtures/npx-wrapper.mjs');
export const EVERYTHING = join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');

// Registered first, so it runs after the test file's own afterAll/afterEach (hooks run last-in,
// first-out): the processes a test started are closed before their folders are removed.
const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) removeDir(dir);
});

/** A new temp dir, removed when the test file is done. */
export function tempDir(prefix = 'mcpx-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

/** A unique word put on the command line of every process a test starts, to find leftovers. */
export function marker(): string {
  return `mcpx-marker-${randomUUID().slice(0, 8)}`;
}

/** A config entry for the fixture child (test/fixtures/child.mjs). */
export function fixture(name: string, env: Record<string, string> = {}, extra: Record<string, unknown> = {}, mark?: string) {
  return { command: process.execPath, args: [CHILD, ...(mark ? [mark] : [])], env: { NAME: name, ...env }, ...extra };
}

/**
 * Runs `mcpx <args>` to completion as a user would (MCPX_CONFIG from the developer's shell does not
 * leak in; no colour). Never rejects: the result carries exitCode, stdout and stderr.
 */
export function runCli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}) {
  return execa(process.execPath, [MCPX, ...args], { cwd: opts.cwd ?? ROOT, reject: false, env: { MCPX_CONFIG: '', NO_COLOR: '1', ...opts.env } });
}

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs node with args (a fixture script) as a real process and collects its output. */
export function runNode(args: string[], opts: SpawnOptions = {}): Promise<Ran> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr }));
  });
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
  /** Options for node itself, before bin/mcpx.js (e.g. --import a test hook). */
  nodeArgs?: string[];
  env?: Record<string, string>;
  /** Directory to write mcpx.json into (default: a new temp dir). */
  dir?: string;
  args?: string[];
  /** Start without --config, so that mcpx finds ./mcpx.json in `dir` (a project config) itself. */
  discover?: boolean;
  /**
   * The client's clientInfo.name. Default "claude-code", mcpx's main client: a test that is not about
   * tool search gets every tool, as Claude Code does, however many its children bring.
   */
  clientName?: string;
}

export function writeConfig(config: unknown, dir = tempDir()): string {
  const file = join(dir, 'mcpx.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

/**
 * Starts `mcpx serve --config <temp>/mcpx.json` (or, with `discover`, `mcpx serve` in it) and connects
 * an SDK client to it. `config` undefined: the mcpx.json already in `dir` is left as it is.
 */
export async function startMcpx(config: unknown, opts: StartOptions = {}): Promise<Mcpx> {
  const dir = opts.dir ?? tempDir();
  const configFile = config === undefined ? join(dir, 'mcpx.json') : writeConfig(config, dir);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...(opts.nodeArgs ?? []), MCPX, 'serve', ...(opts.discover ? [] : ['--config', configFile]), ...(opts.args ?? [])],
    env: serveEnv(dir, opts.env),
    stderr: 'pipe',
    cwd: dir,
  });
  let err = '';
  transport.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const client = new Client({ name: opts.clientName ?? 'claude-code', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
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

function serveEnv(dir: string, env: Record<string, string> = {}): Record<string, string> {
  return { ...(process.env as Record<string, string>), MCPX_CONFIG: '', MCPX_STATE_DIR: join(dir, 'state'), MCPX_CACHE_DIR: join(dir, 'cache'), ...env };
}

/**
 * Spawns `mcpx serve --config <file>` with raw pipes, to speak JSON-RPC lines by hand and watch how
 * it exits (code or signal).
 */
export function rawServe(configFile: string, dir: string, env: Record<string, string> = {}) {
  const proc = spawn(process.execPath, [MCPX, 'serve', '--config', configFile], { stdio: ['pipe', 'pipe', 'pipe'], env: serveEnv(dir, env) });
  // stdout kept as bytes and decoded whole: a character split across two reads arrives whole.
  const chunks: Buffer[] = [];
  let decoded = { n: 0, text: '' };
  const stdoutText = () => (decoded.n === chunks.length ? decoded.text : (decoded = { n: chunks.length, text: Buffer.concat(chunks).toString('utf8') }).text);
  let err = '';
  proc.stdout.on('data', (d: Buffer) => chunks.push(d));
  proc.stderr.on('data', (d) => (err += d));
  const send = (msg: unknown) => proc.stdin.write(JSON.stringify(msg) + '\n');
  const response = (id: number) =>
    waitFor(() => stdoutText().split('\n').filter(Boolean).map((l) => JSON.parse(l)).find((m) => m.id === id), 5000, `response ${id}`);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return { proc, send, response, exited, stdout: stdoutText, stdoutBytes: () => Buffer.concat(chunks), stderr: () => err };
}

import { processesWith } from '../../src/util/proc.js';

/**
 * rawServe sessions that end after each test (stdin closed, exit awaited); then no process carrying
 * `mark` (put on the children's command lines) may be left.
 */
export function rawSessions(afterEach: (fn: () => Promise<void>) => void, mark: string) {
  const open: ReturnType<typeof rawServe>[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) {
      s.proc.stdin.end();
      await s.exited;
    }
    await waitFor(() => processesWith(mark).length === 0, 5000, 'every child to be gone');
  });
  return (configFile: string, dir: string, env: Record<string, string> = {}) => {
    const s = rawServe(configFile, dir, env);
    open.push(s);
    return s;
  };
}
export { processesWith, isRunning } from '../../src/util/proc.js';

/** Resolves with fn's first truthy value, polled until `ms` have passed (then rejects naming `what`). */
export function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 5000, what = 'condition'): Promise<T> {
  return vi.waitFor(
    async () => {
      const v = await fn();
      if (!v) throw new Error(`timed out waiting for ${what}`);
      return v;
    },
    { timeout: ms, interval: 25 },
  );
}

/**
 * Makes a fixture child add a tool (`<prefix>__add_tool`, which sends one tools/list_changed) and
 * waits until mcpx has passed the notification on and lists the tool. mcpx's debounce timers fire in
 * order, so an extra (wrong) notification from earlier arrives ahead of this one: a count checked
 * afterwards is final, with no sleep.
 */
export async function addToolAndWait(m: Mcpx, prefix: string, notified: () => number): Promise<void> {
  const names = async () => (await m.client.listTools()).tools.map((t) => t.name);
  const [before, listed] = [notified(), await names()];
  await m.client.callTool({ name: `${prefix}__add_tool`, arguments: {} });
  await waitFor(() => notified() > before, 5000, `list_changed after ${prefix}__add_tool`);
  const added = (await names()).filter((n) => !listed.includes(n));
  if (added.length !== 1 || !added[0]!.startsWith(`${prefix}__added_`)) throw new Error(`expected one new ${prefix}__added_* tool, got ${added.join(', ') || 'none'}`);
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

/**
 * mcpxSessions plus a marker for the children of each test (`mark()`, put on their command lines):
 * after each test, once every mcpx is closed, no process carrying it may be left.
 */
export function markedSessions(afterEach: (fn: () => Promise<void>) => void) {
  let current = marker();
  // Registered before the sessions: after-each hooks run last-registered first, so this runs once mcpx is closed.
  afterEach(async () => {
    const used = current;
    current = marker();
    await waitFor(() => processesWith(used).length === 0, 5000, 'every child to be gone');
  });
  return { sessions: mcpxSessions(afterEach), mark: () => current };
}
