import { chmodSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { errorMessage } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { log } from '../util/log.js';
import { isRunning } from '../util/proc.js';

/**
 * The control channel of running serve processes (`mcpx ps`, `reload`, `restart`): a Unix domain socket
 * per process at <state dir>/run/<pid>.sock (folder 0700, socket 0600: this user only; nothing listens
 * on the network), one JSON request line in, one JSON answer line out, then the connection closes.
 * A socket whose process is gone (killed with SIGKILL) is removed by the next serve or client that sees it.
 */
export type ControlRequest = { op: 'ps' } | { op: 'reload' } | { op: 'restart'; server: string };
export type ControlAnswer = { ok: boolean; error?: string; code?: string } & Record<string, unknown>;

const MAX_LINE = 64 * 1024;

export function runDir(stateDir: string): string {
  return join(stateDir, 'run');
}

/** Listens on this process's socket; returns the function that closes and removes it. */
export function listenControl(stateDir: string, handle: (req: ControlRequest) => Promise<ControlAnswer>): () => void {
  const dir = runDir(stateDir);
  const path = join(dir, `${process.pid}.sock`);
  let server: Server | undefined;
  const unavailable = (e: unknown) => log.warn(`control socket ${path}: ${errorMessage(e)}; mcpx ps, reload and restart will not reach this process`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700); // a folder left wider by hand is tightened: the socket is the way to restart children
    runningInstances(stateDir); // removes the sockets of processes that are gone
    rmSync(path, { force: true }); // left by an earlier process that had our pid
    server = createServer((socket) => answerOne(socket, handle));
    server.on('error', unavailable);
    server.listen(path, () => chmodSync(path, 0o600));
    server.unref();
  } catch (e) {
    unavailable(e);
  }
  return () => {
    server?.close();
    rmSync(path, { force: true });
  };
}

function answerOne(socket: Socket, handle: (req: ControlRequest) => Promise<ControlAnswer>): void {
  let line = '';
  socket.setEncoding('utf8');
  socket.on('error', () => undefined);
  const onData = (chunk: string) => {
    line += chunk;
    if (line.length > MAX_LINE) return void socket.destroy();
    const end = line.indexOf('\n');
    if (end < 0) return;
    socket.off('data', onData);
    let answer: Promise<ControlAnswer>;
    try {
      answer = handle(parseRequest(line.slice(0, end)));
    } catch (e) {
      answer = Promise.resolve({ ok: false, code: 'USAGE', error: errorMessage(e) });
    }
    void answer
      .catch((e): ControlAnswer => ({ ok: false, error: errorMessage(e) }))
      .then((a) => socket.end(JSON.stringify(log.redactDeep(a)) + '\n'));
  };
  socket.on('data', onData);
}

function parseRequest(line: string): ControlRequest {
  const req = JSON.parse(line) as { op?: unknown; server?: unknown };
  if (req.op === 'ps' || req.op === 'reload') return { op: req.op };
  if (req.op === 'restart' && typeof req.server === 'string') return { op: 'restart', server: req.server };
  throw new Error(`unknown request ${JSON.stringify(req.op)}`);
}

/** The sockets of serve processes that are still running; those of processes that are gone are removed. */
export function runningInstances(stateDir: string): { pid: number; socket: string }[] {
  const dir = runDir(stateDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const out: { pid: number; socket: string }[] = [];
  for (const name of names) {
    const m = /^(\d+)\.sock$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (isRunning(pid)) out.push({ pid, socket: join(dir, name) });
    else removeStale(join(dir, name));
  }
  return out.sort((a, b) => a.pid - b.pid);
}

export function removeStale(socket: string): void {
  rmSync(socket, { force: true });
  log.debug(`removed the stale control socket ${socket}`);
}

/** Sends one request and waits for its answer line. Rejects on no answer within timeoutMs. */
export function ask(socket: string, req: ControlRequest, timeoutMs: number): Promise<ControlAnswer> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let text = '';
    const timer = setTimeout(() => {
      conn.destroy();
      reject(new Error(`no answer within ${formatDuration(timeoutMs)}`));
    }, timeoutMs);
    conn.setEncoding('utf8');
    conn.on('connect', () => conn.write(JSON.stringify(req) + '\n'));
    conn.on('data', (d: string) => (text += d));
    conn.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(text) as ControlAnswer);
      } catch {
        reject(new Error('its answer was not JSON'));
      }
    });
    conn.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}
