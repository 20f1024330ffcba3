import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { McpxError, errorMessage } from '../errors.js';
import { loadVariables } from './env.js';
import { normalizeConfig } from './normalize.js';
import { registerSecrets } from './secrets.js';
import { selectServers } from './select.js';
import { userConfigFile } from './paths.js';
import type { Config, Selection } from './types.js';

export type { Config, Selection, ServerConfig } from './types.js';

/** Where the config is: --config FILE, $MCPX_CONFIG, ./mcpx.json, then the user config dir. */
export function findConfig(flag?: string): { file: string; foundBy: Config['foundBy'] } {
  if (flag) return { file: resolve(flag), foundBy: 'flag' };
  if (process.env.MCPX_CONFIG) return { file: resolve(process.env.MCPX_CONFIG), foundBy: 'env' };
  const local = resolve('mcpx.json');
  if (existsSync(local)) return { file: local, foundBy: 'cwd' };
  const user = userConfigFile();
  if (existsSync(user)) return { file: user, foundBy: 'user' };
  throw new McpxError('no mcpx.json found (looked at --config, $MCPX_CONFIG, ./mcpx.json and ' + user + ')', {
    code: 'CONFIG_NOT_FOUND',
    suggestion: 'run `mcpx init` to write one, or pass --config FILE',
  });
}

export interface LoadedConfig {
  config: Config;
  warnings: string[];
}

export interface LoadOptions {
  /** `--tags` / `--only`: keep only these servers (an unknown name or tag is a usage error). */
  select?: Selection;
}

export function loadConfig(flag?: string, opts: LoadOptions = {}): LoadedConfig {
  const { file, foundBy } = findConfig(flag);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new McpxError(`cannot read config ${file}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`, {
      code: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'CONFIG_NOT_FOUND' : 'CONFIG_PARSE',
      file,
      suggestion: 'check the path, or run `mcpx init`',
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new McpxError(`${file}: not valid JSON: ${errorMessage(e)}`, {
      code: 'CONFIG_PARSE',
      file,
      suggestion: 'fix the JSON syntax (comments and trailing commas are not allowed)',
    });
  }
  const vars = loadVariables(file);
  const normalized = normalizeConfig({ raw, file, foundBy, vars: vars.values, envFiles: vars.files });
  const loaded = { ...normalized, config: selectServers(normalized.config, opts.select) };
  // The one place secrets are registered: every command and serve load their config here.
  registerSecrets(loaded.config, vars.values);
  return loaded;
}
