import envPaths from 'env-paths';
import { homedir } from 'node:os';

/** Where mcpx keeps things, per the platform's conventions (~/.config, ~/.cache, ~/.local/state on Linux). */
const paths = envPaths('mcpx', { suffix: '' });

export function userConfigFile(): string {
  return `${paths.config}/mcpx.json`;
}

export function defaultCacheDir(): string {
  return process.env.MCPX_CACHE_DIR || paths.cache;
}

export function defaultStateDir(): string {
  return process.env.MCPX_STATE_DIR || paths.log;
}

export function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? homedir() + p.slice(1) : p;
}
