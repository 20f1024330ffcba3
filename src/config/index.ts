import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { McpxError, errorMessage } from '../errors.js';
import { loadVariables, readEnvFile } from './env.js';
import { normalizeConfig } from './normalize.js';
import { registerSecrets } from './secrets.js';
import { selectServers } from './select.js';
import { userConfigFile } from './paths.js';
import { trustState, untrusted, waitingForTrust, type ProjectContent } from './trust.js';
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
 * The config to use. A project config (./mcpx.json) is used only once trusted, with the .env beside
 * it (see trust.ts); until then nothing in either is used: mcpx goes on with the user config if there
 * is one, else with no servers, and `config.waitingForTrust` plus the first warning name the file and
 * the command that trusts it. A config the user chose (--config, $MCPX_CONFIG, the user config dir)
 * reads the environment and the .env beside itself, never the working directory's.
 */
export function loadConfig(flag?: string, opts: LoadOptions = {}): LoadedConfig {
  const choice = findConfig(flag);
  if (choice.foundBy !== 'cwd') return loadChosen(choice, opts);
  const content = readWithEnv(choice.file);
  const verdict = trustState(choice.file, content);
  if (verdict.state === 'trusted') return loadChosen(choice, opts, content);

  const user = existsSync(userConfigFile()) ? userConfigFile() : undefined;
  const waiting = waitingForTrust(choice.file, { state: verdict.state, changed: verdict.changed }, user);
  const fallback = user ? loadChosen({ file: user, foundBy: 'user' }, opts) : { config: emptyConfig(choice.file), warnings: [] };
  fallback.config.waitingForTrust = waiting;
  fallback.warnings.unshift(waiting.message);
  return fallback;
}

/** The same file again (a rotated credential): a project config must still be the bytes the user trusted. */
export function reloadConfig(config: Config): LoadedConfig {
  return loadChosen({ file: config.file, foundBy: config.foundBy }, { select: config.selection });
}

/** `content`: a project config's bytes and its .env's, as already read (and checked against trust). */
function loadChosen(choice: ConfigChoice, opts: LoadOptions, content?: ProjectContent): LoadedConfig {
  const { file, foundBy } = choice;
  const { config: bytes, env } = content ?? readWithEnv(file);
  // Checked on the bytes that are parsed below, so a file swapped after the check cannot slip in.
  if (foundBy === 'cwd') {
    const verdict = trustState(file, { config: bytes, env });
    if (verdict.state !== 'trusted') throw untrusted(file, { state: verdict.state, changed: verdict.changed });
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
  const vars = loadVariables(file, process.env, env);
  const normalized = normalizeConfig({ raw, file, foundBy, vars: vars.values, envFiles: vars.files });
  const loaded = { ...normalized, config: selectServers(normalized.config, opts.select) };
  // The one place secrets are registered: every command and serve load their config here.
  registerSecrets(loaded.config, vars.values);
  return loaded;
}

/** A config and the .env beside it, read once: a project's trust is checked on these bytes, and they are used. */
function readWithEnv(file: string): ProjectContent {
  return { config: readConfig(file), env: readEnvFile(file) };
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
