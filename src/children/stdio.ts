import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { Writable } from 'node:stream';
import type { ResultPromise } from 'execa';
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/client';
import { McpxError } from '../errors.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import { batchedWriter } from '../util/batch.js';
import { log } from '../util/log.js';
import { liveGroupMembers } from '../util/proc.js';
import { MessageFramer } from './framing.js';
import { RawRequests } from './raw.js';

/**
 * A stdio transport for one child process, written for mcpx rather than taken from the SDK because:
 * - the child gets mcpx's whole environment plus its own `env` (the SDK passes six variables);
 * - the child runs in its own process group, and close() signals the whole group, so that a server
 *   started through `npx` (npm wrapper + real server) leaves no orphan;
 * - stdout is framed on bytes (framing.ts): a character split across two reads arrives whole, a line
 *   that is not JSON-RPC (some servers log there) is skipped and counted, one over `maxMessageBytes`
 *   is dropped while it is read; none of them is fatal;
 * - a write to a child that stopped reading its stdin waits a bounded time, then fails the request;
 * - stderr goes to a per-child log file (0600, redacted line by line), never to mcpx's stdout.
 */
export interface StdioChildOptions {
  server: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  logDir: string;
  /** A stdout line longer than this is dropped while it is read. */
  maxMessageBytes: number;
  /** How long a write waits for a child that does not read its stdin (default STDIN_DRAIN_MS). */
  stdinDrainMs?: number;
}

/** How long each step of a stop waits: stdin closed, then SIGTERM, then SIGKILL (3 steps < 3 s). */
const STOP_GRACE_MS = 600;
/** A child that has not read its stdin for this long while mcpx has a message for it is stuck. */
const STDIN_DRAIN_MS = 5_000;

/**
 * Never give this class a `stderr` property: the v2 SDK takes a transport with both `pid` and `stderr`
 * for its own stdio transport and then treats an era-probe timeout as a legacy verdict. Without it a
 * timeout stays a timeout (a slow `npx` start is not a 2025-era server). test/children/stdio.test.ts checks.
 */
export class StdioChildTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;

  exitInfo?: { code: number | null; signal: string | null };
  /** The protocol version agreed in initialize (the SDK Client tells the transport). */
  protocolVersion?: string;
  private proc?: ResultPromise;
  private readonly framer: MessageFramer;
  /** Requests sent past the SDK Client (raw.ts): their responses and progress are taken here first. */
  readonly raw = new RawRequests(
    (m) => this.sendNow(m),
    (why) => log.warn(`${this.opts.server}: sent a ${why}; the call it answered failed`),
  );
  private delivery: Promise<void> = Promise.resolve();
  private stderrLog?: WriteStream;
  private readonly stderrDecoder = new StringDecoder('utf8');
  /** The end of stderr after its last newline: a secret split across two chunks is redacted whole. */
  private stderrTail = '';
  private closed = false;
  private closing = false;
  /** Writes to the child's stdin, those of one event-loop turn in one system call. */
  private write?: (text: string) => boolean;
  private exited?: Promise<void>;

  constructor(private readonly opts: StdioChildOptions) {
    this.framer = new MessageFramer(opts.maxMessageBytes, {
      // One message per microtask, in order: the SDK runs notification handlers a microtask late, so
      // a progress notification read in the same chunk as its response would otherwise be dropped.
      message: (m, text) => void (this.delivery = this.delivery.then(() => this.deliver(m, text))),
      junk: (head, bytes) => this.onJunk(head, bytes),
      oversized: (bytes) => this.onOversized(bytes),
    });
  }

  /**
   * One message to raw.ts or the Client. It never throws: the delivery chain must survive any one bad
   * message, or every later message from this child would be dropped while it looks alive.
   */
  private deliver(m: JSONRPCMessage, text: string): void {
    try {
      if (!this.raw.take(m, text)) this.onmessage?.(m);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      log.warn(`${this.opts.server}: a message it sent could not be handled (${why}); later messages are still read`);
      this.stderrLog?.write(log.redact(`[stdout, not handled: ${why}] ${text}\n`));
    }
  }

  /** Lines on stdout that were not JSON-RPC; doctor shows the count. */
  get junkLines(): number {
    return this.framer.junkLines;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async start(): Promise<void> {
    const { command, args, env, cwd, server } = this.opts;
    const { execa } = await loadExeca();
    if (this.closing) throw new Error(`${server}: stopped before it was spawned`);
    mkdirSync(this.opts.logDir, { recursive: true, mode: 0o700 });
    this.stderrLog = createWriteStream(join(this.opts.logDir, `${server}.log`), { flags: 'a', mode: 0o600 });
    this.stderrLog.on('error', () => (this.stderrLog = undefined));

    const proc = execa(command, args, {
      env,
      extendEnv: false,
      cwd,
      detached: true, // own process group: we kill the group, not just the wrapper
      cleanup: false,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      windowsHide: true,
    });
    this.proc = proc;
    this.exited = proc.then(
      (r) => void (this.exitInfo = { code: r.exitCode ?? null, signal: r.signal ?? null }),
      () => undefined,
    );
    void this.exited.then(() => {
      // The direct child died on its own (crash, or a wrapper that exits early): its group may hold
      // the real server, orphaned. Stop the group too.
      if (!this.closing && proc.pid !== undefined) {
        signalGroup(proc.pid, 'SIGTERM');
        setTimeout(() => signalGroup(proc.pid!, 'SIGKILL'), STOP_GRACE_MS).unref();
      }
      this.finish();
    });

    await new Promise<void>((resolve, reject) => {
      proc.once('spawn', () => resolve());
      proc.once('error', (e: NodeJS.ErrnoException) =>
        reject(new Error(e.code === 'ENOENT' ? `command not found: ${command}` : `cannot start ${command}: ${e.message}`)),
      );
    });

    proc.stdout!.on('data', (chunk: Buffer) => this.framer.push(chunk));
    proc.stdout!.on('end', () => this.framer.end());
    proc.stderr!.on('data', (chunk: Buffer) => this.onStderr(chunk));
    proc.stdin!.on('error', (e) => this.onerror?.(e)); // EPIPE when the child died: reported by exit
  }

  private onJunk(head: Buffer, bytes: number): void {
    const line = head.toString('utf8').replace(/\r$/, '');
    const size = bytes > head.length ? ` (${formatBytes(bytes)}, the first ${formatBytes(head.length)} kept)` : '';
    const say = this.junkLines === 1 ? log.warn.bind(log) : log.debug.bind(log);
    say(`${this.opts.server}: skipped a line on stdout that is not JSON-RPC${size}: ${line.slice(0, 200)}`);
    this.stderrLog?.write(log.redact(`[stdout, not JSON-RPC${size}] ${line}\n`));
  }

  private onOversized(bytes: number): void {
    const why = `dropped a ${formatBytes(bytes)} line on stdout: over maxMessageBytes (${formatBytes(this.opts.maxMessageBytes)})`;
    log.warn(`${this.opts.server}: ${why}; a call it answered fails at its deadline`);
    this.stderrLog?.write(`[stdout, ${why}]\n`);
  }

  private onStderr(chunk: Buffer): void {
    const text = this.stderrTail + this.stderrDecoder.write(chunk);
    const nl = text.lastIndexOf('\n');
    // Whole lines only (a partial one waits for its end, unless it grows past 64 KiB), redacted.
    const whole = nl !== -1 ? text.slice(0, nl + 1) : text.length > 65_536 ? text : '';
    this.stderrTail = text.slice(whole.length);
    if (whole) this.writeStderr(whole);
  }

  private writeStderr(text: string): void {
    this.stderrLog?.write(log.redact(text));
    if (log.level === 'debug') {
      for (const line of text.split('\n')) if (line) log.debug(`[${this.opts.server}] ${line}`);
    }
  }

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }

  async send(message: JSONRPCMessage): Promise<void> {
    await this.sendNow(message);
  }

  /**
   * send() without a promise when the child's stdin has room (raw.ts sends every forwarded call this
   * way): written at once, undefined; a promise only when it must wait. Throws when the child is not running.
   */
  sendNow(message: JSONRPCMessage): Promise<void> | undefined {
    const stdin = this.proc?.stdin;
    if (!stdin || this.closed || stdin.destroyed) throw new Error(`${this.opts.server}: not running`);
    const write = (this.write ??= batchedWriter(stdin));
    // Wait for room before writing, within a deadline: a child that stopped reading fails the request
    // (the child's failure, counted by its breaker) instead of mcpx queueing messages for it forever.
    if (stdin.writableNeedDrain) return this.roomIn(stdin).then(() => void write(JSON.stringify(message) + '\n')); // rejects when stdin closes meanwhile
    write(JSON.stringify(message) + '\n');
    return undefined;
  }

  private roomIn(stdin: Writable): Promise<void> {
    const server = this.opts.server;
    const ms = this.opts.stdinDrainMs ?? STDIN_DRAIN_MS;
    return new Promise<void>((resolve, reject) => {
      const settle = (error?: McpxError) => {
        clearTimeout(timer);
        stdin.off('drain', drained);
        stdin.off('close', closed);
        if (error) reject(error);
        else resolve();
      };
      const drained = () => settle();
      const closed = () => settle(new McpxError(`${server} is not running`, { code: 'CHILD_DOWN', server }));
      const timer = setTimeout(() => settle(new McpxError(
        `it has not read its stdin for ${formatDuration(ms)} (the message was not sent)`,
        { code: 'CHILD_TIMEOUT', server, suggestion: `it may be stuck: see ${join(this.opts.logDir, `${server}.log`)}` },
      )), ms);
      timer.unref();
      stdin.once('drain', drained);
      stdin.once('close', closed);
    });
  }

  /** stdin closed → SIGTERM to the group → SIGKILL to the group; returns when no process is left. */
  async close(): Promise<void> {
    this.closing = true; // also stops a start() still loading execa from spawning
    if (!this.proc) return;
    this.proc.stdin?.end();
    const pgid = this.proc.pid;
    if (pgid === undefined) return this.finish();
    if (!(await waitGroupGone(pgid, this.exited!, STOP_GRACE_MS))) {
      signalGroup(pgid, 'SIGTERM');
      if (!(await waitGroupGone(pgid, this.exited!, STOP_GRACE_MS))) {
        log.warn(`${this.opts.server}: did not stop on SIGTERM; killed its process group`);
        signalGroup(pgid, 'SIGKILL');
        await waitGroupGone(pgid, this.exited!, STOP_GRACE_MS);
      }
    }
    this.finish();
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    const rest = this.stderrTail + this.stderrDecoder.end();
    this.stderrTail = '';
    if (rest) this.writeStderr(rest);
    this.stderrLog?.end();
    this.raw.closeAll();
    this.onclose?.();
  }
}

let execaModule: Promise<typeof import('execa')> | undefined;
/**
 * execa, loaded once on first use rather than at startup: it is ~100 modules that answering initialize
 * does not need. The runtime loads it before starting children, so that they spawn at once.
 */
export function loadExeca(): Promise<typeof import('execa')> {
  return (execaModule ??= import('execa'));
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}


/** Waits for the direct child to exit and its process group to empty, up to `ms`. */
async function waitGroupGone(pgid: number, exited: Promise<void>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  const timeout = new Promise<void>((r) => setTimeout(r, ms).unref());
  await Promise.race([exited, timeout]);
  while (liveGroupMembers(pgid).length > 0) {
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 10).unref());
  }
  return true;
}
