import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { trustFile } from '../../src/config/trust.js';

/**
 * For the doctor / tools / call / stats tests: the CLI as real processes, the fixture child as the
 * real child server, each test in its own temp dir with its own cache and state dirs, and a unique
 * marker on every child's command line so that a leftover process is found by scanning /proc.
 */
export const REPO = resolve(import.meta.dirname, '../..');
export const BIN = join(REPO, 'bin/mcpx.js');
export const CHILD = join(REPO, 'test/fixtures/child.mjs');

export interface Sandbox {
  dir: string;
  marker: string;
  /** Runs `mcpx <args>` in the sandbox (cwd = dir), with its cache/state dirs and NO_COLOR. */
  mcpx(args: string[], env?: Record<string, string>): ReturnType<typeof run>;
  /** Writes the config and trusts it, as the user would (`mcpx trust`): the CLI runs it from cwd = dir. */
  config(servers: Record<string, unknown>, file?: string): string;
  /** `mcpx trust` for a file written by hand (sandbox state dir). */
  trust(file?: string): void;
  /** A config entry for the fixture child, marked. */
  child(name: string, env?: Record<string, string>, extra?: Record<string, unknown>): Record<string, unknown>;
  cleanup(): void;
}

function run(cwd: string, args: string[], env: Record<string, string>) {
  return execa('node', [BIN, ...args], { cwd, reject: false, env: { MCPX_CONFIG: '', NO_COLOR: '1', ...env } });
}

export function sandbox(): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'mcpx-cmd-'));
  const marker = `mcpx-cmdtest-${randomUUID().slice(0, 8)}`;
  const base = { MCPX_CACHE_DIR: join(dir, 'cache'), MCPX_STATE_DIR: join(dir, 'state') };
  return {
    dir,
    marker,
    mcpx: (args, env = {}) => run(dir, args, { ...base, ...env }),
    config(servers, file = join(dir, 'mcpx.json')) {
      writeFileSync(file, JSON.stringify({ mcpServers: servers }, null, 2));
      trustFile(file, base.MCPX_STATE_DIR);
      return file;
    },
    trust: (file = join(dir, 'mcpx.json')) => void trustFile(file, base.MCPX_STATE_DIR),
    child: (name, env = {}, extra = {}) => ({ command: 'node', args: [CHILD, marker], env: { NAME: name, ...env }, ...extra }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Live (non-zombie) processes whose command line holds `word`. */
export async function processesWith(word: string): Promise<number[]> {
  const { isRunning } = (await import(pathToFileURL(join(REPO, 'dist/util/proc.js')).href)) as typeof import('../../src/util/proc.js');
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (cmdline.includes(word) && isRunning(Number(name))) found.push(Number(name));
  }
  return found;
}

/** The build's modules, as the CLI runs them. */
export async function dist<T>(path: string): Promise<T> {
  return (await import(pathToFileURL(join(REPO, 'dist', path)).href)) as T;
}

export function mkdirp(p: string): string {
  mkdirSync(p, { recursive: true });
  return p;
}
