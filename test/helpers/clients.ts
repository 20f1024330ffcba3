// Real MCP clients other than Claude Code (Codex, Gemini CLI), run against mcpx offline: each gets a
// temp home holding its config (mcpx as a stdio MCP server or a team server's URL with a bearer token,
// a model provider pointing at the fake model on 127.0.0.1) and runs one non-interactive prompt. The clients are installed for the tests
// only, from test/clients/package.json (`npm ci --prefix test/clients --ignore-scripts`), never as
// dependencies of mcpx.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { MCPX, ROOT, processesWith } from './mcpx.js';

export const INSTALL_CLIENTS = 'npm ci --prefix test/clients --ignore-scripts';
const CLIENTS = join(ROOT, 'test/clients/node_modules');

/** The script a client package runs (its package.json `bin`), or undefined when it is not installed. */
export function clientEntry(pkg: string): string | undefined {
  const manifest = join(CLIENTS, pkg, 'package.json');
  if (!existsSync(manifest)) return undefined;
  const bin = JSON.parse(readFileSync(manifest, 'utf8')).bin as string | Record<string, string>;
  const file = join(CLIENTS, pkg, typeof bin === 'string' ? bin : Object.values(bin)[0]!);
  return existsSync(file) ? file : undefined;
}

export const notInstalled = (client: string) => `${client} is not installed (a test-only client): run \`${INSTALL_CLIENTS}\``;

/** How mcpx is started by a client: the command line and the variables that keep its state in `dir`. */
export function mcpxServer(configFile: string, dir: string) {
  return {
    command: process.execPath,
    args: [MCPX, 'serve', '--config', configFile],
    env: { MCPX_CONFIG: '', MCPX_STATE_DIR: join(dir, 'state'), MCPX_CACHE_DIR: join(dir, 'cache') },
  };
}

export interface ClientRun {
  exitCode: number | undefined;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/** The environment a client runs in: the developer's own keys and configs for these clients stay out. */
function clientEnv(home: string, extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(OPENAI|CODEX|GEMINI|GOOGLE)_/.test(k)) env[k] = v;
  return { ...env, HOME: home, NO_COLOR: '1', ...extra };
}

async function run(entry: string, args: string[], cwd: string, env: Record<string, string>): Promise<ClientRun> {
  const r = await execa(process.execPath, [entry, ...args], { cwd, env, extendEnv: false, reject: false, stdin: 'ignore', timeout: 90_000 });
  return { exitCode: r.exitCode, timedOut: !!r.timedOut, stdout: r.stdout, stderr: r.stderr };
}

const toml = (v: unknown): string =>
  typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? `[${v.map(toml).join(', ')}]` : `{ ${Object.entries(v as object).map(([k, x]) => `${JSON.stringify(k)} = ${toml(x)}`).join(', ')} }`;

/** One run of a client: where it lives, its model, how it reaches mcpx, what it is asked. */
export interface RunOptions {
  /** The test's temp dir: the client's home and work dir go in it. */
  dir: string;
  modelUrl: string;
  /** mcpx's config file: the client starts `mcpx serve --config <it>` over stdio. */
  configFile?: string;
  /** Or a running team server (`mcpx serve --http`): its /mcp URL and the bearer token the client sends (none: no header). */
  http?: { url: string; token?: string };
  prompt: string;
  /** Tools the client may call without asking (Codex: `approval_mode = "approve"`; Gemini trusts all of mcpx). */
  approve?: string[];
}

/**
 * `codex exec <prompt>` with a temp CODEX_HOME: the fake model as a custom Responses-API provider, no
 * approvals asked (`never`), a read-only sandbox, and mcpx as the (required) MCP server `mcpx`
 * (started over stdio, or a team server's URL with `bearer_token_env_var`). `approve` names
 * tools Codex may call although they lack `readOnlyHint` (under `never` it refuses those otherwise).
 */
export function runCodex(entry: string, o: RunOptions): Promise<ClientRun> {
  const home = join(o.dir, 'home');
  const work = join(o.dir, 'work');
  mkdirSync(join(home, '.codex'), { recursive: true });
  mkdirSync(work, { recursive: true });
  const lines = [
    'model = "fake-model"',
    'model_provider = "fake"',
    'approval_policy = "never"',
    'sandbox_mode = "read-only"',
    '[model_providers.fake]',
    'name = "fake"',
    `base_url = ${toml(o.modelUrl)}`,
    'wire_api = "responses"',
    'env_key = "FAKE_MODEL_KEY"',
    'request_max_retries = 0',
    'stream_max_retries = 0',
    '[mcp_servers.mcpx]',
    ...codexServer(o),
    // Since 0.147 Codex gives an optional server about 1 s to start, then runs the turn without its
    // tools; a cold mcpx (no catalog stored yet) lists once its children have started.
    'required = true',
    'startup_timeout_sec = 60',
    ...(o.approve ?? []).flatMap((t) => [`[mcp_servers.mcpx.tools.${JSON.stringify(t)}]`, 'approval_mode = "approve"']),
  ];
  writeFileSync(join(home, '.codex/config.toml'), lines.join('\n') + '\n');
  const env = clientEnv(home, { CODEX_HOME: join(home, '.codex'), FAKE_MODEL_KEY: 'fake-key', ...tokenEnv(o) });
  return run(entry, ['exec', '--skip-git-repo-check', '--color', 'never', '-C', work, o.prompt], work, env);
}

/** The token reaches a client through its environment (the variable its config names), never its config file. */
const TOKEN_VAR = 'MCPX_TEAM_TOKEN';
const tokenEnv = (o: RunOptions): Record<string, string> => (o.http?.token ? { [TOKEN_VAR]: o.http.token } : {});

/** Codex's `[mcp_servers.mcpx]` keys: a command to start, or a Streamable HTTP URL with `bearer_token_env_var`. */
function codexServer(o: RunOptions): string[] {
  if (o.http) return [`url = ${toml(o.http.url)}`, ...(o.http.token ? [`bearer_token_env_var = ${toml(TOKEN_VAR)}`] : [])];
  const server = mcpxServer(o.configFile!, o.dir);
  return [`command = ${toml(server.command)}`, `args = ${toml(server.args)}`, `env = ${toml(server.env)}`];
}

/**
 * `gemini -m <model> -p <prompt>` with a temp HOME: the Gemini API at the fake model (an API key, the
 * base URL from GOOGLE_GEMINI_BASE_URL), a trusted workspace, and mcpx as the MCP server `mcpx`,
 * trusted (a headless run offers only tools that need no confirmation).
 */
export function runGemini(entry: string, o: RunOptions): Promise<ClientRun> {
  const home = join(o.dir, 'home');
  const work = join(o.dir, 'work');
  mkdirSync(join(home, '.gemini'), { recursive: true });
  mkdirSync(work, { recursive: true });
  const settings = {
    security: { auth: { selectedType: 'gemini-api-key' } },
    privacy: { usageStatisticsEnabled: false },
    mcpServers: { mcpx: { ...geminiServer(o), trust: true } },
  };
  writeFileSync(join(home, '.gemini/settings.json'), JSON.stringify(settings, null, 2));
  // NO_RELAUNCH: Gemini CLI runs in this one process instead of starting itself again with a bigger
  // heap, which doubles its CPU time for nothing a short run needs.
  const env = clientEnv(home, { GEMINI_API_KEY: 'fake-key', GOOGLE_GEMINI_BASE_URL: o.modelUrl, GEMINI_CLI_TRUST_WORKSPACE: 'true', GEMINI_CLI_NO_RELAUNCH: 'true', ...tokenEnv(o) });
  return run(entry, ['-m', 'gemini-2.5-flash', '-p', o.prompt], work, env);
}

/** Gemini CLI's server entry: a command to start, or `httpUrl` (Streamable HTTP) with the header, its token from the environment (settings expand `$VAR`). */
function geminiServer(o: RunOptions): Record<string, unknown> {
  if (o.http) return { httpUrl: o.http.url, ...(o.http.token ? { headers: { Authorization: `Bearer $${TOKEN_VAR}` } } : {}) };
  return mcpxServer(o.configFile!, o.dir);
}

/** Command lines of the live processes that carry `word` (the test's temp dir is on each of them). */
export function commandLines(word: string): string[] {
  return processesWith(word).map((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      return '';
    }
  });
}

/** An SDK client connected straight to one child (a config entry: command, args, env): no mcpx between. */
export async function connectDirect(entry: { command: string; args: string[]; env: Record<string, string> }): Promise<Client> {
  const transport = new StdioClientTransport({ command: entry.command, args: entry.args, env: { ...(process.env as Record<string, string>), ...entry.env }, stderr: 'ignore' });
  const client = new Client({ name: 'direct', version: '1.0.0' });
  await client.connect(transport);
  return client;
}
