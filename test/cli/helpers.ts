import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, removeDir, runCli, tempDir as sharedTempDir } from '../helpers/mcpx.js';

/** Real processes in real temp dirs: the CLI as a user runs it (build first: npx tsc -p tsconfig.json). */
export const REPO = ROOT;

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = sharedTempDir('mcpx-cli-');
  return { dir, cleanup: () => removeDir(dir) };
}

export function mcpx(cwd: string, ...args: string[]) {
  return runCli(args, { cwd });
}

/** loadConfig() from the build, as serve would run it. */
export async function loadConfigFile(file: string) {
  const { loadConfig } = (await import(pathToFileURL(join(REPO, 'dist/config/index.js')).href)) as typeof import('../../src/config/index.js');
  return loadConfig(file);
}
