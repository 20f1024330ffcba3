// `mcpx serve --http` as a real process for tests: it listens on a free port (--port 0) and says where
// on stderr; the helper reads the URL from that line. Every server started is stopped after each test.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { MCPX, tempDir, waitFor, writeConfig } from './mcpx.js';

export interface HttpMcpx {
  /** http://127.0.0.1:<port>/mcp */
  url: string;
  /** http://127.0.0.1:<port> */
  base: string;
  dir: string;
  configFile: string;
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Options of node itself go in `nodeArgs`, before bin/mcpx.js (e.g. --import a test hook). */
export interface HttpStartOptions {
  args?: string[];
  env?: Record<string, string>;
  dir?: string;
  nodeArgs?: string[];
}

/** Spawns `mcpx serve --http --port 0 --config <dir>/mcpx.json [args]` (own cache and state dirs). */
export function spawnHttp(config: unknown, opts: HttpStartOptions = {}) {
  const dir = opts.dir ?? tempDir();
  const configFile = writeConfig(config, dir);
  const proc = spawn(process.execPath, [...(opts.nodeArgs ?? []), MCPX, 'serve', '--http', '--port', '0', '--config', configFile, ...(opts.args ?? [])], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...(process.env as Record<string, string>), MCPX_CONFIG: '', MCPX_STATE_DIR: join(dir, 'state'), MCPX_CACHE_DIR: join(dir, 'cache'), ...opts.env },
  });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  proc.stdout!.resume();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return { proc, dir, configFile, stderr: () => err, exited };
}

/** The MCP clients a test file opens: closed after each test (push each one as it is made). */
export function clientsClosedAfterEach(afterEach: (fn: () => Promise<void>) => void): { close(): Promise<unknown> }[] {
  const clients: { close(): Promise<unknown> }[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  });
  return clients;
}

/** Servers for one test file: `start` waits until it listens; each one still running is stopped (SIGTERM) after each test. */
export function httpServers(afterEach: (fn: () => Promise<void>) => void) {
  const open: HttpMcpx[] = [];
  afterEach(async () => {
    await Promise.all(
      open.splice(0).map(async (s) => {
        if (s.proc.exitCode === null && s.proc.signalCode === null) s.proc.kill('SIGTERM');
        await s.exited;
      }),
    );
  });
  return {
    async start(config: unknown, opts: HttpStartOptions = {}): Promise<HttpMcpx> {
      const s = spawnHttp(config, opts);
      const server = { ...s, url: '', base: '' };
      open.push(server);
      const url = await waitFor(() => /serving MCP over HTTP at (http:\/\/\S+\/mcp)/.exec(s.stderr())?.[1] ?? (s.proc.exitCode !== null && `exited: ${s.stderr()}`), 20_000, 'mcpx to listen');
      if (url.startsWith('exited')) throw new Error(url);
      server.url = url;
      server.base = url.replace(/\/mcp$/, '');
      return server;
    },
  };
}

/** One request a client sent through `recordingProxy`, and how mcpx answered it. */
export interface Exchange {
  method: string;
  /** The JSON-RPC method(s) in a POST body. */
  rpc: string[];
  /** `protocolVersion` of an initialize. */
  protocolVersion?: string;
  sessionId?: string;
  /** Whether an Authorization header came with it (never its value). */
  authorized: boolean;
  status: number;
  wwwAuthenticate?: string;
  /** The Mcp-Session-Id mcpx gave back (initialize). */
  newSessionId?: string;
}

/**
 * A pass-through proxy on 127.0.0.1 in front of a team server, so that a test sees what a real client
 * sends over HTTP (sessions, DELETE, the token or its absence) and what mcpx answers, bytes untouched.
 * `exchanges` fills as answers start (their headers); `close` ends it and every connection through it.
 */
export async function recordingProxy(target: string) {
  const to = new URL(target);
  const exchanges: Exchange[] = [];
  const proxy = createServer((req, res) => {
    const body: Buffer[] = [];
    req.on('data', (d: Buffer) => body.push(d));
    const up = request({ host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      const sent = parsed(Buffer.concat(body).toString('utf8'));
      const messages = (Array.isArray(sent) ? sent : sent ? [sent] : []) as { method?: string; params?: { protocolVersion?: string } }[];
      const header = (h: string | string[] | undefined) => (Array.isArray(h) ? h[0] : h);
      exchanges.push({
        method: req.method ?? '',
        rpc: messages.flatMap((m) => (m.method ? [m.method] : [])),
        protocolVersion: messages.find((m) => m.method === 'initialize')?.params?.protocolVersion,
        sessionId: header(req.headers['mcp-session-id']),
        authorized: req.headers.authorization !== undefined,
        status: answer.statusCode ?? 0,
        wwwAuthenticate: header(answer.headers['www-authenticate']),
        newSessionId: header(answer.headers['mcp-session-id']),
      });
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      res.flushHeaders();
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}${to.pathname}`,
    exchanges,
    close: () => new Promise<void>((r) => (proxy.closeAllConnections(), proxy.close(() => r()))),
  };
}

function parsed(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
