import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { trustFile } from '../../src/config/trust.js';
import { CHILD, MCPX, ROOT, marker as newMarker, removeDir, runCli, tempDir } from '../helpers/mcpx.js';

/**
 * For the doctor / tools / call / stats tests: the CLI as real processes, the fixture child as the
 * real child server, each test in its own temp dir with its own cache and state dirs, and a unique
 * marker on every child's command line so that a leftover process is found by scanning /proc.
 */
export const REPO = ROOT;
export const BIN = MCPX;
export { CHILD, processesWith } from '../helpers/mcpx.js';

export interface Sandbox {
  dir: string;
  marker: string;
  /** Runs `mcpx <args>` in the sandbox (cwd = dir), with its cache/state dirs and NO_COLOR. */
  mcpx(args: string[], env?: Record<string, string>): ReturnType<typeof runCli>;
  /** Writes the config and trusts it, as the user would (`mcpx trust`): the CLI runs it from cwd = dir. */
  config(servers: Record<string, unknown>, file?: string): string;
  /** `mcpx trust` for a file written by hand (sandbox state dir). */
  trust(file?: string): void;
  /** A config entry for the fixture child, marked. */
  child(name: string, env?: Record<string, string>, extra?: Record<string, unknown>): Record<string, unknown>;
  cleanup(): void;
}

export function sandbox(): Sandbox {
  const dir = tempDir('mcpx-cmd-');
  const marker = newMarker();
  const base = { MCPX_CACHE_DIR: join(dir, 'cache'), MCPX_STATE_DIR: join(dir, 'state') };
  return {
    dir,
    marker,
    mcpx: (args, env = {}) => runCli(args, { cwd: dir, env: { ...base, ...env } }),
    config(servers, file = join(dir, 'mcpx.json')) {
      writeFileSync(file, JSON.stringify({ mcpServers: servers }, null, 2));
      trustFile(file, base.MCPX_STATE_DIR);
      return file;
    },
    trust: (file = join(dir, 'mcpx.json')) => void trustFile(file, base.MCPX_STATE_DIR),
    child: (name, env = {}, extra = {}) => ({ command: 'node', args: [CHILD, marker], env: { NAME: name, ...env }, ...extra }),
    cleanup: () => removeDir(dir),
  };
}

/** The build's modules, as the CLI runs them. */
export async function dist<T>(path: string): Promise<T> {
  return (await import(pathToFileURL(join(REPO, 'dist', path)).href)) as T;
}

export function mkdirp(p: string): string {
  mkdirSync(p, { recursive: true });
  return p;
}
