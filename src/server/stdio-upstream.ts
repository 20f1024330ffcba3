import { parseJSONRPCMessage, type JSONRPCMessage, type Transport } from '@modelcontextprotocol/server';

/**
 * The client's side of `mcpx serve` over stdio: the SDK's StdioServerTransport, read the same way
 * (lines split on "\n", a trailing "\r" dropped, a line that is not JSON skipped, a message the SDK's
 * JSON-RPC schema refuses reported to onerror and skipped, more than `maxBufferSize` unread bytes
 * close the connection), but without the schema's zod parse for the requests and notifications whose
 * shape is plainly one it accepts: that parse was the largest cost of mcpx's own on a forwarded call
 * (BENCHMARKS.md). Anything else (responses to mcpx's requests, any doubt) goes through the SDK's
 * public `parseJSONRPCMessage`, as before. Writes are the SDK transport's: one line per message, a
 * send waits for `drain` when the stream asks for it.
 */
export class UpstreamStdioTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private buffer?: Buffer;
  private started = false;
  private closed = false;

  constructor(
    private readonly stdin: NodeJS.ReadableStream,
    private readonly stdout: NodeJS.WritableStream,
    private readonly maxBufferSize: number,
  ) {}

  async start(): Promise<void> {
    if (this.started) throw new Error('UpstreamStdioTransport already started');
    this.started = true;
    const s = this.stdin as NodeJS.ReadableStream & { readableEnded?: boolean; destroyed?: boolean };
    if (s.readableEnded || s.destroyed) setImmediate(this.onEnd);
    this.stdin.on('data', this.onData);
    this.stdin.on('error', this.onStdinError);
    this.stdin.on('end', this.onEnd);
    this.stdin.on('close', this.onEnd);
    this.stdout.on('error', this.onStdoutError);
  }

  private readonly onData = (chunk: Buffer): void => {
    if ((this.buffer?.length ?? 0) + chunk.length > this.maxBufferSize) {
      this.buffer = undefined;
      this.onerror?.(new Error(`ReadBuffer exceeded maximum size of ${this.maxBufferSize} bytes`));
      void this.close();
      return;
    }
    let buf = this.buffer ? Buffer.concat([this.buffer, chunk]) : chunk;
    for (let nl = buf.indexOf(0x0a); nl !== -1 && !this.closed; nl = buf.indexOf(0x0a)) {
      const line = buf.toString('utf8', 0, nl);
      buf = buf.subarray(nl + 1);
      const m = this.read(line.endsWith('\r') ? line.slice(0, -1) : line);
      try {
        if (m) this.onmessage?.(m);
      } catch (e) {
        this.onerror?.(e as Error); // one message's failure is not the connection's
      }
    }
    this.buffer = buf.length ? buf : undefined;
  };

  /** One line as a message, or undefined (not JSON: skipped silently; refused by the schema: reported). */
  private read(line: string): JSONRPCMessage | undefined {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return undefined;
    }
    if (plainlyValid(value)) return value as JSONRPCMessage;
    try {
      return parseJSONRPCMessage(value);
    } catch (e) {
      this.onerror?.(e as Error);
      return undefined;
    }
  }

  private readonly onStdinError = (e: Error) => this.onerror?.(e);
  private readonly onStdoutError = (e: Error) => {
    if (this.closed) return;
    this.onerror?.(e);
    void this.close();
  };
  private readonly onEnd = () => void this.close();

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stdin.off('data', this.onData);
    this.stdin.off('error', this.onStdinError);
    this.stdin.off('end', this.onEnd);
    this.stdin.off('close', this.onEnd);
    if (this.stdin.listenerCount('data') === 0) this.stdin.pause();
    this.buffer = undefined;
    this.onclose?.();
  }

  send(message: JSONRPCMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error('UpstreamStdioTransport is closed'));
    return new Promise((resolve, reject) => {
      const out = this.stdout;
      const done = (e?: Error) => {
        out.off('error', done);
        out.off('drain', drained);
        if (e) reject(e);
        else resolve();
      };
      const drained = () => done();
      out.once('error', done);
      if (out.write(JSON.stringify(message) + '\n')) done();
      else out.once('drain', drained);
    });
  }
}

const REQUEST_KEYS = new Set(['jsonrpc', 'id', 'method', 'params']);
const RELATED_TASK_KEY = 'io.modelcontextprotocol/related-task';

/**
 * A request or notification that the SDK's JSON-RPC schema accepts for sure, and would return unchanged
 * but for the order of keys: "2.0", an id that is a string or an integer, a method, no other top-level key,
 * params an object whose `_meta`, if any, is an object with a progress token that is a string or an
 * integer. Anything else (a response, a related-task key, any doubt) is left to the schema.
 */
export function plainlyValid(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const m = v as Record<string, unknown>;
  if (m.jsonrpc !== '2.0' || typeof m.method !== 'string') return false;
  for (const k in m) if (!REQUEST_KEYS.has(k)) return false;
  if ('id' in m && typeof m.id !== 'string' && !Number.isSafeInteger(m.id)) return false;
  if (!('params' in m)) return true;
  const p = m.params;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) return false;
  if (!('_meta' in p)) return true;
  const meta = (p as { _meta?: unknown })._meta;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return false;
  if (RELATED_TASK_KEY in meta) return false;
  if (!('progressToken' in meta)) return true;
  const token = (meta as { progressToken?: unknown }).progressToken;
  return typeof token === 'string' || Number.isSafeInteger(token);
}
