import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';

/** Real processes in real temp dirs: the CLI as a user runs it (build first: npx tsc -p tsconfig.json). */
export const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'bin/mcpx.js');

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'mcpx-cli-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function mcpx(cwd: string, ...args: string[]) {
  // MCPX_CONFIG from the developer's shell must not leak into what the test sees.
  return execa('node', [BIN, ...args], { cwd, reject: false, env: { MCPX_CONFIG: '', NO_COLOR: '1' } });
}

/** loadConfig() from the build, as serve would run it. */
export async function loadConfigFile(file: string) {
  const { loadConfig } = (await import(pathToFileURL(join(REPO, 'dist/config/index.js')).href)) as typeof import('../../src/config/index.js');
  return loadConfig(file);
}
