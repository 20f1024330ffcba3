import type { JSONRPCMessage, JSONRPCRequest, Progress, RequestId, ServerContext } from '@modelcontextprotocol/server';
import { log } from '../util/log.js';
import { rawJson } from '../util/raw-json.js';
import { fastPathEnabled } from '../util/switches.js';
import type { UpstreamEdge } from './bridge.js';
import type { Backend, Upstream } from './upstream.js';

/**
 * The upstream half of the fast path (issue 13; the child half is children/raw.ts). A 2025-era stdio
 * client's tools/call, resources/read and prompts/get, and its tools/list, are taken off the transport
 * before the SDK Server: no per-request context, handler dispatch or result serialised twice. A call
 * runs the very code the Server's fallback handler runs (`Upstream.request`: the status tool, refusals,
 * the call tracked on the client's edge, progress and cancel through `withCall`, the same pipeline
 * `run()`), so the cache, breaker, admission, quota, deadline, fallbacks and audit behave exactly as
 * there. The answer is written as the SDK Server writes it (`{"result":…,"jsonrpc":"2.0","id":…}`),
 * with the child's own result text spliced in when mcpx did not change the result.
 *
 * Left to the SDK path: a 2026 client, a request carrying 2026 envelope keys or a retry's answers, a
 * list with a tool whose output schema the 2025 codec rewraps, and everything before the backend is
 * loaded. MCPX_FASTPATH=0 leaves everything to it (a debugging switch).
 */
export interface FastPathDeps {
  /** The stdio client's edge: its era and Server tell whether it is a 2025 client, initialized. */
  edge: UpstreamEdge;
  backend: Promise<Backend>;
  upstream: Upstream;
  /** Writes one whole line to the client (the same stream the SDK transport writes to, so in order). */
  write(line: string): void;
}

/** 2026-07-28 envelope keys live under this prefix in `_meta`; a retry's answers are params of their own. */
const ENVELOPE_PREFIX = 'io.modelcontextprotocol/';
const CALLS: ReadonlySet<string> = new Set(['tools/call', 'resources/read', 'prompts/get']);

export class FastPath {
  private backend?: Backend;
  /** Calls in flight on this path, for the client's notifications/cancelled. */
  private readonly inFlight = new Map<RequestId, AbortController>();
  /** The answer to tools/list for one routing build (a rebuild makes a new tools array). */
  private toolsJson?: { tools: unknown[]; json: string };
  private readonly enabled = fastPathEnabled();

  constructor(private readonly deps: FastPathDeps) {
    deps.backend.then((b) => (this.backend = b), () => undefined);
  }

  /** An inbound message: true when this path took it (the SDK Server must not see it, unless handed on by `deliver`). */
  take(m: JSONRPCMessage, deliver: () => void): boolean {
    if (!this.enabled || !('method' in m)) return false;
    if (!('id' in m)) return m.method === 'notifications/cancelled' && this.cancel(m.params);
    const b = this.backend;
    const { edge } = this.deps;
    if (!b || edge.era !== 'legacy' || !edge.server?.getClientCapabilities()) return false;
    const params = (m.params ?? {}) as Record<string, unknown>;
    if (!plain(params)) return false;
    if (m.method === 'tools/list') {
      if (params.cursor !== undefined) return false;
      this.announce();
      void this.listTools(b, m.id, deliver);
      return true;
    }
    if (!CALLS.has(m.method)) return false;
    this.announce();
    void this.call(m as JSONRPCRequest, params);
    return true;
  }

  private async call(req: JSONRPCRequest, params: Record<string, unknown>): Promise<void> {
    const abort = new AbortController();
    this.inFlight.set(req.id, abort);
    const ctx = {
      mcpReq: {
        signal: abort.signal,
        _meta: params._meta,
        notify: (n: { method: string; params: Progress }) => (this.deps.write(JSON.stringify({ jsonrpc: '2.0', ...n }) + '\n'), Promise.resolve()),
      },
    } as unknown as ServerContext;
    try {
      const result = await this.deps.upstream.request(req.method, params, ctx, this.deps.edge);
      if (abort.signal.aborted) return; // cancelled: no answer, as on the SDK path
      const raw = typeof result === 'object' && result !== null ? rawJson.get(result) : undefined;
      this.deps.write(raw !== undefined ? `{"result":${raw},"jsonrpc":"2.0","id":${JSON.stringify(req.id)}}\n` : JSON.stringify({ result, jsonrpc: '2.0', id: req.id }) + '\n');
    } catch (e) {
      if (!abort.signal.aborted) this.deps.write(errorLine(req.id, e));
    } finally {
      this.inFlight.delete(req.id);
    }
  }

  /**
   * The merged tools list, serialised once per routing build (a later list is one string write). A list
   * with a tool whose output schema the SDK's 2025 codec rewraps goes to the SDK Server after all.
   */
  private async listTools(b: Backend, id: RequestId, deliver: () => void): Promise<void> {
    try {
      await b.settled();
      b.hub.recheckPins(); // an approval made by `mcpx approve` since the last look
      const { tools } = b.hub.routing;
      if (this.toolsJson?.tools !== tools) {
        if (tools.some(needsLegacyWrap)) return deliver();
        this.toolsJson = { tools, json: `{"tools":${JSON.stringify(tools)}}` };
      }
      this.deps.write(`{"result":${this.toolsJson.json},"jsonrpc":"2.0","id":${JSON.stringify(id)}}\n`);
    } catch (e) {
      this.deps.write(errorLine(id, e));
    }
  }

  private announced = false;
  /** Once per process, in the log file: the fast path is in use (tests look for it). */
  private announce(): void {
    if (this.announced) return;
    this.announced = true;
    log.debug('fast path: answering a 2025 client\'s calls and lists past the SDK Server (MCPX_FASTPATH=0 turns it off)');
  }

  private cancel(params: unknown): boolean {
    const id = (params as { requestId?: RequestId } | undefined)?.requestId;
    const abort = id === undefined ? undefined : this.inFlight.get(id);
    if (!abort) return false;
    abort.abort((params as { reason?: unknown }).reason);
    return true;
  }
}

/** No 2026-07-28 material in the request: nothing the SDK would lift off it first. */
export function plain(params: Record<string, unknown>): boolean {
  if (typeof params !== 'object' || Array.isArray(params)) return false;
  if ('inputResponses' in params || 'requestState' in params) return false;
  const meta = params._meta;
  if (meta === undefined) return true;
  if (!meta || typeof meta !== 'object') return false;
  for (const k in meta) if (k.startsWith(ENVELOPE_PREFIX)) return false;
  return true;
}

/** A tool whose output schema the SDK's 2025 codec rewraps (its list is the SDK's to answer; early-list.ts too). */
export function needsLegacyWrap(t: { outputSchema?: unknown }): boolean {
  const s = t.outputSchema as Record<string, unknown> | undefined;
  return !!s && typeof s === 'object' && !Array.isArray(s) && s.type !== 'object';
}

/** The error response as the SDK Server writes it (its 2025 codec maps -32002 to -32602). */
function errorLine(id: RequestId, e: unknown): string {
  const err = (e ?? {}) as { code?: unknown; message?: unknown; data?: unknown };
  const thrown = Number.isSafeInteger(err.code) ? (err.code as number) : -32603;
  const error = { code: thrown === -32002 ? -32602 : thrown, message: (err.message as string | undefined) ?? 'Internal error', ...(err.data !== undefined && { data: err.data }) };
  return JSON.stringify({ jsonrpc: '2.0', id, error }) + '\n';
}
