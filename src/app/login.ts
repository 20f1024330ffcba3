import { loadConfig } from '../config/index.js';
import { unknownServer } from '../config/select.js';
import type { Config, ServerConfig } from '../config/types.js';
import { McpxError } from '../errors.js';
import type { LoginResult, SignInState } from '../children/oauth/index.js';

/**
 * `mcpx login` / `mcpx logout`, headless: sign in to a remote server (tokens stored in the state
 * directory, 0600), forget the tokens, or list each OAuth server's sign-in. Each returns a plain
 * object; no token is ever part of one.
 */
export interface LoginList {
  config: string;
  servers: SignInState[];
}

export async function loginServer(opts: { config?: string; server: string; browser: boolean; say: (line: string) => void }): Promise<LoginResult & { restartedIn?: number }> {
  const config = loadConfig(opts.config).config;
  const server = remote(config, opts.server);
  const { login } = await import('../children/oauth/index.js');
  const { resolveSecretCommands } = await import('../children/secrets.js');
  const result = await login(await resolveSecretCommands(server), { stateDir: config.stateDir, browser: opts.browser, say: opts.say });
  return { ...result, ...(await wakeServes(config, server.name)) };
}

/**
 * The running serves of this config where the server is down (it waited for this sign-in, and may have
 * stopped retrying: then none of its tools would ever be listed) restart it now. One where it is up
 * takes the new tokens at its next request. Best effort: the sign-in is stored either way.
 */
async function wakeServes(config: Config, name: string): Promise<{ restartedIn?: number }> {
  const { listInstances, restartServer } = await import('./control.js');
  try {
    const at = { config: config.file, stateDir: config.stateDir };
    const ps = await listInstances(at);
    if (!ps.instances.some((i) => i.servers.some((s) => s.name === name && s.state === 'down'))) return {};
    const r = await restartServer(name, at);
    return { restartedIn: r.instances.filter((i) => i.ok).length };
  } catch {
    return {};
  }
}

export async function logoutServer(opts: { config?: string; server: string }): Promise<{ server: string; signedOut: boolean; revoked: boolean }> {
  const config = loadConfig(opts.config).config;
  const server = remote(config, opts.server);
  const { logout } = await import('../children/oauth/index.js');
  const { resolveSecretCommands } = await import('../children/secrets.js');
  return logout(await resolveSecretCommands(server), config.stateDir);
}

export async function listSignIns(opts: { config?: string } = {}): Promise<LoginList> {
  const config = loadConfig(opts.config).config;
  const { hasSignIn, signInState } = await import('../children/oauth/index.js');
  const servers = config.servers.filter((s) => hasSignIn(s, config.stateDir)).map((s) => signInState(s, config.stateDir));
  return { config: config.file, servers };
}

function remote(config: Config, name: string): ServerConfig {
  const server = config.servers.find((s) => s.name === name);
  if (!server) throw unknownServer(config, name);
  if (server.transport === 'stdio') {
    throw new McpxError(`"${name}" is a stdio server: only remote servers ("type": "http" or "sse") sign in with OAuth`, { code: 'USAGE', server: name, file: config.file });
  }
  if (server.problem) throw server.problem;
  return server;
}
