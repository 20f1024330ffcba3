import { ProtocolError, SdkError, SdkErrorCode, type JSONRPCMessage, type Progress, type RequestOptions } from '@modelcontextprotocol/client';
import { rawJson } from '../util/raw-json.js';

/**
 * The child half of the forwarded requests' route (server/forward.ts is the client half), for a
 * 2025-era stdio child: every forwarded request (tools/call, resources/read, prompts/get,
 * completion/complete, resources/subscribe and unsubscribe) is sent as plain JSON-RPC on the child's
 * transport, and its response and progress are taken off the wire before the SDK Client sees them: no zod parse of the result, no Protocol bookkeeping. What it
 * does is what the Client does for such a request, nothing more: the same ids-to-responses matching,
 * the same timeout (reset on progress, capped by maxTotalTimeout), the same cancellation sent to the
 * child, the same errors (SdkError / ProtocolError). Everything else the child sends (its requests for
 * elicitation, roots, sampling; logging; list_changed) still goes to the Client.
 *
 * The result object is the child's parsed JSON, as before; its raw text is kept beside it (util/raw-json.ts)
 * so that the upstream can write the child's bytes without serialising them again when nothing in mcpx
 * changed the result.
 */
export const RAW_METHODS: ReadonlySet<string> = new Set(['tools/call', 'resources/read', 'prompts/get', 'completion/complete', 'resources/subscribe', 'resources/unsubscribe']);

/** Ours, well away from the SDK Client's ids (which count up from 0 on the same connection). */
const FIRST_ID = 1_000_000_000;

/** Sends one message to the child: at once (undefined), or a promise when it must wait for room first. */
export type Send = (m: JSONRPCMessage) => Promise<void> | undefined;

/**
 * One request in flight, settled once: by the child's answer, its deadline or the caller's cancel. A
 * class with methods rather than closures per request, and its own abort listener (`handleEvent`): this
 * runs for every forwarded call.
 */
class Pending {
  readonly startedAt = Date.now();
  readonly timeout: number;
  timer: NodeJS.Timeout;

  constructor(
    private readonly pending: Map<number, Pending>,
    private readonly send: Send,
    readonly id: number,
    private readonly resolveWith: (result: Record<string, unknown>) => void,
    private readonly rejectWith: (error: unknown) => void,
    readonly options: RequestOptions,
  ) {
    this.timeout = options.timeout ?? 60_000;
    this.timer = setTimeout(timedOut, this.timeout, this);
    options.signal?.addEventListener('abort', this);
  }

  resolve(result: Record<string, unknown>): void {
    this.finish();
    this.resolveWith(result);
  }

  reject(error: unknown): void {
    this.finish();
    this.rejectWith(error);
  }

  /** As the SDK Client: the child hears of the cancel; the caller gets the reason as an SdkError. */
  cancel(reason: unknown): void {
    if (!this.pending.has(this.id)) return;
    this.finish();
    sendQuietly(this.send, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: this.id, reason: String(reason) } });
    this.rejectWith(asSdkError(reason));
  }

  /** The caller's signal aborted (EventTarget calls this: no closure per request). */
  handleEvent(): void {
    this.cancel(this.options.signal!.reason);
  }

  private finish(): void {
    this.pending.delete(this.id);
    clearTimeout(this.timer);
    this.options.signal?.removeEventListener('abort', this);
  }
}

function timedOut(p: Pending): void {
  p.cancel(new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out', { timeout: p.timeout }));
}

function asSdkError(reason: unknown): SdkError {
  return reason instanceof SdkError ? reason : new SdkError(SdkErrorCode.RequestTimeout, String(reason));
}

/** A message whose failure to go out nobody waits for (the cancel: the request has already failed). */
function sendQuietly(send: Send, m: JSONRPCMessage): void {
  try {
    send(m)?.catch(() => undefined);
  } catch {
    /* the child is gone: nothing to tell it */
  }
}

export class RawRequests {
  private nextId = FIRST_ID;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly send: Send,
    /** Told of a malformed response to one of ours (the request fails with the same reason). */
    private readonly onMalformed: (why: string) => void = () => undefined,
  ) {}

  request(method: string, params: unknown, options: RequestOptions = {}): Promise<Record<string, unknown>> {
    if (options.signal?.aborted) return Promise.reject(asSdkError(options.signal.reason));
    const id = this.nextId++;
    let body = params as Record<string, unknown> | undefined;
    if (options.onprogress) body = { ...body, _meta: { ...(body?._meta as object | undefined), progressToken: id } };
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const p = new Pending(this.pending, this.send, id, resolve, reject, options);
      this.pending.set(id, p);
      // Written at once when the child's stdin has room: no promise per call then.
      try {
        this.send({ method, params: body, jsonrpc: '2.0', id } as JSONRPCMessage)?.catch((e: unknown) => p.reject(e));
      } catch (e) {
        p.reject(e);
      }
    });
  }

  /**
   * A message from the child: true when it was a response or progress of ours (then the Client never
   * sees it). Never throws: a malformed response to one of ours fails that request, with the reason.
   */
  take(m: JSONRPCMessage, text: string): boolean {
    if (this.pending.size === 0) return false;
    if ('method' in m) {
      if (m.method !== 'notifications/progress' || 'id' in m) return false;
      const params = m.params as { progressToken?: unknown } | undefined;
      const p = this.pending.get(ourId(params?.progressToken));
      if (!p) return false;
      this.onProgress(p, params as Record<string, unknown>);
      return true;
    }
    const id = (m as { id?: unknown }).id;
    const p = this.pending.get(ourId(id));
    if (!p) return false;
    if ('result' in m && m.result && typeof m.result === 'object') {
      let result = m.result as Record<string, unknown>;
      if ('resultType' in result) {
        // The SDK's 2025 codec drops a stray resultType: so does this path (and the bytes are not the child's then).
        const { resultType: _drop, ...rest } = result;
        result = rest;
      } else {
        const raw = rawResultText(text, id as number | string, m);
        if (raw !== undefined) rawJson.set(result, raw);
      }
      p.resolve(result);
    } else if ('error' in m && isErrorObject(m.error)) {
      p.reject(ProtocolError.fromError(m.error.code, m.error.message, m.error.data));
    } else {
      const why = `malformed response: ${malformed(m)}`;
      this.onMalformed(why);
      p.reject(new SdkError(SdkErrorCode.InvalidResult, why));
    }
    return true;
  }

  /** The connection closed: every request waiting fails as the Client's would. */
  closeAll(): void {
    const error = new SdkError(SdkErrorCode.ConnectionClosed, 'Connection closed');
    for (const p of [...this.pending.values()]) p.reject(error);
  }

  private onProgress(p: Pending, params: Record<string, unknown>): void {
    if (typeof params.progress !== 'number') return; // the Client's schema drops it too
    const { maxTotalTimeout } = p.options;
    if (p.options.resetTimeoutOnProgress) {
      if (maxTotalTimeout && Date.now() - p.startedAt >= maxTotalTimeout) {
        p.reject(new SdkError(SdkErrorCode.RequestTimeout, 'Maximum total timeout exceeded', { maxTotalTimeout, totalElapsed: Date.now() - p.startedAt }));
        return;
      }
      clearTimeout(p.timer);
      p.timer = setTimeout(timedOut, p.timeout, p);
    }
    // The fields and their order as the Client's schema gives them (its parse drops any others).
    const { _meta, progress, total, message } = params;
    p.options.onprogress?.({
      ...(_meta !== undefined && { _meta }),
      progress,
      ...(typeof total === 'number' && { total }),
      ...(typeof message === 'string' && { message }),
    } as Progress);
  }
}

/**
 * The pending key of an id or progress token the child sent back: ours are numbers, and a child that
 * echoes them as strings ("1000000000") is understood, as the SDK Client understands it (Number(id)).
 */
function ourId(v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
}

function isErrorObject(e: unknown): e is { code: number; message: string; data?: unknown } {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'number' && typeof (e as { message?: unknown }).message === 'string';
}

/** What is wrong with a response that is neither a result object nor a well-formed error. */
function malformed(m: JSONRPCMessage): string {
  if ('error' in m) return `its error is ${JSON.stringify(m.error) ?? 'undefined'}, not an object with a numeric code and a message`;
  if ('result' in m) return `its result is ${JSON.stringify(m.result) ?? 'undefined'}, not an object`;
  return 'it has neither a result nor an error';
}

/**
 * The text of `result` inside the child's response line, when the line has one of the two usual
 * shapes (the SDK's `{"result":…,"jsonrpc":"2.0","id":N}`, or `{"jsonrpc":"2.0","id":N,"result":…}`,
 * N as the child wrote it: a number, or a string)
 * and nothing else: then what lies between is exactly the result's JSON. Otherwise undefined (the
 * result is serialised again upstream).
 */
function rawResultText(text: string, id: number | string, m: JSONRPCMessage): string | undefined {
  let keys = 0;
  for (const _ in m) if (++keys > 3) return undefined;
  let end = text.length;
  while (end > 0 && (text.charCodeAt(end - 1) === 0x0d || text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0x09)) end--;
  const idText = JSON.stringify(id);
  const tail = `,"jsonrpc":"2.0","id":${idText}}`;
  if (text.startsWith('{"result":') && text.endsWith(tail, end)) return text.slice(10, end - tail.length);
  const head = `{"jsonrpc":"2.0","id":${idText},"result":`;
  if (text.startsWith(head) && text.charCodeAt(end - 1) === 0x7d) return text.slice(head.length, end - 1);
  return undefined;
}
