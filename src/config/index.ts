import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { McpxError, errorMessage } from '../errors.js';
import { loadVariables } from './env.js';
import { normalizeConfig } from './normalize.js';
import { registerSecrets } from './secrets.js';
import { selectServers } from './select.js';
import { userConfigFile } from './paths.js';
import { trustState, waitingForTrust } from './trust.js';
import type { Config, Selection } from './types.js';

export type { Config, Selection, ServerConfig, WaitingForTrust } from './types.js';

interface ConfigChoice {
  file: string;
  foundBy: Config['foundBy'];
}

/** Where the config is: --config FILE, $MCPX_CONFIG, ./mcpx.json, then the user config dir. */
export function findConfig(flag?: string): ConfigChoice {
  if (flag) return { file: resolve(flag), foundBy: 'flag' };
  if (process.env.MCPX_CONFIG) return { file: resolve(process.env.MCPX_CONFIG), foundBy: 'env' };
  const local = resolve('mcpx.json');
  const user = userConfigFile();
  if (existsSync(local)) return { file: local, foundBy: local === user ? 'user' : 'cwd' };
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

/**
 * The config to use. A project config (./mcpx.json) is used only once trusted (see trust.ts); until
 * then nothing in it or in its folder's .env is used: mcpx goes on with the user config if there is
 * one, else with no servers, and `config.waitingForTrust` plus the first warning name the file and the
 * command that trusts it.
 */
export function loadConfig(flag?: string, opts: LoadOptions = {}): LoadedConfig {
  const choice = findConfig(flag);
  if (choice.foundBy !== 'cwd') return loadChosen(choice, opts);
  const bytes = readConfig(choice.file);
  const state = trustState(choice.file, bytes);
  if (state === 'trusted') return loadChosen(choice, opts, bytes);

  const user = existsSync(userConfigFile()) ? userConfigFile() : undefined;
  const waiting = waitingForTrust(choice.file, state, user);
  const fallback = user ? loadChosen({ file: user, foundBy: 'user' }, opts, undefined, false) : { config: emptyConfig(choice.file), warnings: [] };
  fallback.config.waitingForTrust = waiting;
  fallback.warnings.unshift(waiting.message);
  return fallback;
}

/** The same file again (a rotated credential): a project config must still be the bytes the user trusted. */
export function reloadConfig(config: Config): LoadedConfig {
  return loadChosen({ file: config.file, foundBy: config.foundBy }, { select: config.selection }, undefined, !config.waitingForTrust);
}

function loadChosen(choice: ConfigChoice, opts: LoadOptions, bytes = readConfig(choice.file), cwdEnv = true): LoadedConfig {
  const { file, foundBy } = choice;
  // Checked on the bytes that are parsed below, so a file swapped after the check cannot slip in.
  if (foundBy === 'cwd' && trustState(file, bytes) !== 'trusted') {
    throw new McpxError(`${file} is no longer the file you trusted (it changed, or was untrusted); not using it`, {
      code: 'CONFIG_UNTRUSTED', file, suggestion: waitingForTrust(file, 'changed').suggestion,
    });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    throw new McpxError(`${file}: not valid JSON: ${errorMessage(e)}`, {
      code: 'CONFIG_PARSE',
      file,
      suggestion: 'fix the JSON syntax (comments and trailing commas are not allowed)',
    });
  }
  const vars = loadVariables(file, process.env, { cwdEnv });
  const normalized = normalizeConfig({ raw, file, foundBy, vars: vars.values, envFiles: vars.files });
  const loaded = { ...normalized, config: selectServers(normalized.config, opts.select) };
  // The one place secrets are registered: every command and serve load their config here.
  registerSecrets(loaded.config, vars.values);
  return loaded;
}

function readConfig(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new McpxError(`cannot read config ${file}: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`, {
      code: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'CONFIG_NOT_FOUND' : 'CONFIG_PARSE',
      file,
      suggestion: 'check the path, or run `mcpx init`',
    });
  }
}

/** No servers, every default: what serve runs while the only config waits for trust. */
function emptyConfig(file: string): Config {
  return normalizeConfig({ raw: { mcpServers: {} }, file, foundBy: 'cwd', vars: {}, envFiles: [] }).config;
}
