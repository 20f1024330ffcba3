import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Writable } from 'node:stream';
import { afterEach } from 'vitest';
import { Logger } from '../../src/util/log.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const FIXTURES = join(ROOT, 'test/fixtures/cache');

const made: string[] = [];
afterEach(() => {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fresh temp dir, removed after the test. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'mcpx-cache-'));
  made.push(d);
  return d;
}

/** A logger that keeps its lines, so tests can count warnings. */
export function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: new Logger('debug', sink), lines };
}

export interface Ran {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs node with args as a real process and collects its output. */
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

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface Holder {
  pid: number;
  /** Ends its transaction and waits for it to exit. */
  release(): Promise<void>;
}

const holders: ChildProcess[] = [];
afterEach(() => {
  for (const h of holders.splice(0)) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
});

/**
 * Another process holding the cache database (test/fixtures/cache/lock.mjs): the write lock, or an
 * open read transaction; with `serve`, also a fresh heartbeat in `status`, as `mcpx serve` writes.
 */
export async function holdDatabase(dir: string, mode: 'write' | 'read', opts: { serve?: boolean } = {}): Promise<Holder> {
  const child = spawn(process.execPath, [join(FIXTURES, 'lock.mjs'), dir, mode, ...(opts.serve ? ['serve'] : [])], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  holders.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  await new Promise<void>((res, rej) => {
    child.stdout!.on('data', (d) => String(d).includes('locked') && res());
    void exited.then(() => rej(new Error(`lock holder exited early: ${stderr}`)));
  });
  return {
    pid: child.pid!,
    release: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}
