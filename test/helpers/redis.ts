// A redis-server of the test's own (Debian's package): loopback, a free port, no persistence, a temp
// dir; never a system service. Plus a TCP proxy in front of it, to cut one client off while Redis and
// its data stay up (a network partition), or to hold its connections until told (a Redis slow to be ready).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { createClient } from 'redis';
import { isRunning } from '../../src/util/proc.js';
import { tempDir } from './mcpx.js';

export interface RedisServer {
  port: number;
  url: string;
  pid(): number | undefined;
  /** Starts it again on the same port (empty: nothing is persisted). */
  start(): Promise<void>;
  /** SIGKILL by default; resolves when it is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Kills it and removes its dir. */
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  srv.close();
  await once(srv, 'close');
  return port;
}

export async function startRedis(extraArgs: string[] = []): Promise<RedisServer> {
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error('redis-server is not installed: apt-get install -y redis-server (.ci/run does it)');
  }
  const port = await freePort();
  const dir = tempDir('mcpx-redis-');
  let proc: ChildProcess | undefined;
  const start = async () => {
    const p = (proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    await new Promise<void>((resolve, reject) => {
      p.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) resolve();
      });
      p.on('exit', (code) => reject(new Error(`redis-server exited (${code}): ${out}`)));
    });
  };
  const kill = async (signal: NodeJS.Signals = 'SIGKILL') => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, 'exit');
    p.kill(signal);
    await exited;
    proc = undefined;
  };
  await start();
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    pid: () => proc?.pid,
    start,
    kill,
    stop: async () => {
      if (proc?.pid) process.kill(proc.pid, 'SIGCONT'); // a test may have left it stopped
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const adminClient = (url: string) => createClient({ url });
export type RedisAdmin = ReturnType<typeof adminClient>;

/** A test file's own redis-server and an admin client to look inside it (beforeAll). */
export async function redisWithAdmin(): Promise<{ redis: RedisServer; admin: RedisAdmin }> {
  const redis = await startRedis();
  const admin = adminClient(redis.url);
  admin.on('error', () => {}); // a test may kill Redis on purpose; this client reconnects
  await admin.connect();
  return { redis, admin };
}

/** Closes the admin client and stops Redis, checking the server is really gone (afterAll). */
export async function stopRedis(redis: RedisServer, admin: RedisAdmin): Promise<void> {
  admin.destroy();
  const pid = redis.pid();
  await redis.stop();
  if (pid !== undefined && isRunning(pid)) throw new Error(`redis-server ${pid} is still running`);
}

export interface Proxy {
  port: number;
  /** Drops every connection and refuses new ones: the clients behind it lose Redis, the others do not. */
  cut(): Promise<void>;
  /** Accepts connections again, on the same port. */
  restore(): Promise<void>;
  close(): Promise<void>;
  /** Resolves when a client has connected (to a held proxy too). */
  connected(): Promise<void>;
  /** With `hold`: from now on bytes flow both ways (what the clients sent meanwhile included). */
  release(): void;
}

/** `hold`: accept connections but pass nothing on until release(): Redis answers nothing, the socket stays open. */
export async function startProxy(targetPort: number, opts: { hold?: boolean } = {}): Promise<Proxy> {
  const port = await freePort();
  const sockets = new Set<Socket>();
  let server: Server | undefined;
  let released = !opts.hold;
  const waiting: (() => void)[] = [];
  let firstClient!: () => void;
  const connected = new Promise<void>((r) => (firstClient = r));
  const listen = async () => {
    const s = (server = createServer((client) => {
      firstClient();
      client.pause();
      const upstream = createConnection(targetPort, '127.0.0.1');
      for (const x of [client, upstream]) {
        sockets.add(x);
        x.on('error', () => {});
        x.on('close', () => {
          sockets.delete(x);
          client.destroy();
          upstream.destroy();
        });
      }
      const pipe = () => client.pipe(upstream).pipe(client);
      if (released) pipe();
      else waiting.push(pipe);
    }));
    s.listen(port, '127.0.0.1');
    await once(s, 'listening');
  };
  const cut = async () => {
    const s = server;
    server = undefined;
    s?.close();
    for (const x of sockets) x.destroy();
    if (s) await once(s, 'close');
  };
  const release = () => {
    released = true;
    for (const pipe of waiting.splice(0)) pipe();
  };
  await listen();
  return { port, cut, restore: listen, close: cut, connected: () => connected, release };
}
