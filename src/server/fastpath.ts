import { classifyInboundRequest, type JSONRPCMessage, type JSONRPCRequest, type Progress, type RequestId, type ServerContext } from '@modelcontextprotocol/server';
import { log } from '../util/log.js';
import { fastPathEnabled } from '../util/switches.js';
import type { Era, UpstreamEdge } from './bridge.js';
import { CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, LOG_LEVEL_KEY, MODERN_PROTOCOL_VERSIONS, PROTOCOL_VERSION_KEY } from './identity.js';
import type { Backend, ListMethod, Upstream } from './upstream.js';
import { SERVER_INFO_META, encodeModern, errorLine, isObject, legacyAnswer, modernAnswer, needsLegacyWrap, plain } from './compat.js';

/**
 * The upstream half of the fast path (the child half is children/raw.ts). A stdio client's
 * tools/call, resources/read and prompts/get, and its lists, are taken off the transport before the
 * SDK Server: no per-request context, handler dispatch or result serialised twice. A call runs the very
 * code the Server's fallback handler runs (`Upstream.request`: the status tool, refusals, the call
 * tracked on the client's edge, progress and cancel through `withCall`, a 2026 client's input_required
 * rounds through `edge.leg`, the same pipeline `run()`), with the context the Server would give it, so
 * the cache, breaker, admission, quota, deadline, fallbacks and audit behave exactly as there. The
 * answer is written as the SDK Server writes it, by compat.ts (`{"result":…,"jsonrpc":"2.0","id":…}`;
 * for a 2026-07-28 client as the 2026 codec encodes it: resultType, the cache fields of a cacheable
 * result, the server's identity in `_meta`), with the child's own result text spliced in when mcpx did
 * not change the result. Only the SDK's public API is used.
 *
 * A 2025 client: its requests with no 2026 material. A 2026-07-28 client (Claude Code 2.x): once the
 * SDK has pinned the connection modern (it answered a request other than discover), its requests whose
 * envelope the SDK's public classifier (`classifyInboundRequest`) accepts; the envelope and a retry's answers are lifted off as the SDK
 * lifts them. Left to the SDK path: everything before the backend is loaded, a list with a cursor or
 * other params, a 2025 list with a tool whose output schema the 2025 codec rewraps, an envelope the SDK
 * would refuse. MCPX_FASTPATH=0 leaves everything to it (a debugging switch).
 */
export interface FastPathDeps {
  /** The stdio client's edge: its era and Server tell which client it is (a 2025 one initialized, or a 2026 one). */
  edge: UpstreamEdge;
  backend: Promise<Backend>;
  upstream: Upstream;
  /** Writes one whole line to the client (the same stream the SDK transport writes to, so in order). */
  write(line: string): void;
}

const CALLS: ReadonlySet<string> = new Set(['tools/call', 'resources/read', 'prompts/get']);
const LISTS: ReadonlySet<string> = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list']);
/** The envelope keys the SDK lifts off a request's `_meta` (its RESERVED_ENVELOPE_META_KEYS, in its order). */
const RESERVED = [PROTOCOL_VERSION_KEY, CLIENT_INFO_KEY, CLIENT_CAPABILITIES_KEY, LOG_LEVEL_KEY];
/** A 2026 request's params with the wire-only material lifted off, as the SDK's protocol layer does. */
interface Lifted {
  params: Record<string, unknown>;
  envelope: Record<string, unknown>;
  inputResponses?: unknown;
  requestState?: unknown;
}

export class FastPath {
  private backend?: Backend;
  /** Calls in flight on this path, for the client's notifications/cancelled. */
  private readonly inFlight = new Map<RequestId, AbortController>();
  /** The tools array of one routing build as JSON (a rebuild makes a new tools array). */
  private toolsJson?: { tools: unknown[]; json: string };
  private readonly enabled = fastPathEnabled();
  /** serveStdio has pinned the connection (it answered a request other than discover): a 2026 client's requests are ours. */
  private pinned = false;
  /** Requests handed to the SDK before it was pinned, whose result shows it pinned. */
  private readonly watched = new Set<RequestId>();

  constructor(private readonly deps: FastPathDeps) {
    deps.backend.then((b) => (this.backend = b), () => undefined);
  }

  /** An inbound message: true when this path took it (the SDK Server must not see it, unless handed on by `deliver`). */
  take(m: JSONRPCMessage, deliver: () => void): boolean {
    if (!this.enabled || !('method' in m)) return false;
    if (!('id' in m)) return m.method === 'notifications/cancelled' && this.cancel(m.params);
    const taken = this.route(m as JSONRPCRequest, deliver);
    if (!taken && !this.pinned && m.method !== 'server/discover') this.watched.add(m.id);
    return taken;
  }

  /** An outbound message of the SDK: its result to a request other than discover shows the connection pinned. */
  sent(m: JSONRPCMessage): void {
    if (this.pinned || !this.watched.size || !('result' in m) || !this.watched.has(m.id)) return;
    this.pinned = true;
    this.watched.clear();
  }

  private route(m: JSONRPCRequest, deliver: () => void): boolean {
    const b = this.backend;
    const { edge } = this.deps;
    if (!b || (!CALLS.has(m.method) && !LISTS.has(m.method))) return false;
    const params = (m.params ?? {}) as Record<string, unknown>;
    if (typeof params !== 'object' || Array.isArray(params)) return false;
    if (edge.era === 'legacy') {
      if (!edge.server?.getClientCapabilities() || !plain(params)) return false;
      if (m.method === 'tools/list' && params.cursor === undefined) {
        this.announce('legacy');
        void this.listTools(m.id, deliver);
        return true;
      }
      if (!CALLS.has(m.method)) return false;
      this.announce('legacy');
      void this.call(m, params, this.legacyContext(params));
      return true;
    }
    // A 2026-07-28 client, on the connection serveStdio has pinned modern (a request past discover answered).
    if (edge.era !== 'modern' || !this.pinned) return false;
    const lifted = this.lift(params);
    if (!lifted) return false;
    if (LISTS.has(m.method)) {
      if (Object.keys(lifted.params).length) return false; // a cursor, a progress token: the SDK's
      this.announce('modern');
      void this.modernList(m.method as ListMethod, m.id, lifted.envelope);
      return true;
    }
    this.announce('modern');
    void this.call(m, lifted.params, this.modernContext(m, lifted));
    return true;
  }

  /**
   * The envelope and a retry's answers lifted off (the SDK's `liftWireOnlyMaterial`), when the envelope
   * is one the SDK's dispatch accepts (its codec's own check, once per distinct envelope); else undefined.
   */
  private lift(params: Record<string, unknown>): Lifted | undefined {
    const meta = params._meta;
    if (!meta || typeof meta !== 'object' || Array.isArray(meta) || !(PROTOCOL_VERSION_KEY in meta)) return undefined;
    const envelope: Record<string, unknown> = {};
    const rest: Record<string, unknown> = { ...(meta as Record<string, unknown>) };
    for (const k of RESERVED) {
      if (!(k in rest)) continue;
      envelope[k] = rest[k];
      delete rest[k];
    }
    if (!this.envelopeAccepted(envelope)) return undefined;
    const { inputResponses, requestState, ...others } = params;
    const out: Record<string, unknown> = { ...others };
    if (Object.keys(rest).length) out._meta = rest;
    else delete out._meta;
    return { params: out, envelope, ...('inputResponses' in params && { inputResponses }), ...('requestState' in params && { requestState }) };
  }

  /** Envelopes (as text) the SDK's check accepted or refused: a client sends the same one every time. */
  private readonly envelopes = new Map<string, boolean>();
  private envelopeAccepted(envelope: Record<string, unknown>): boolean {
    const key = JSON.stringify(envelope);
    let ok = this.envelopes.get(key);
    if (ok === undefined) {
      // The SDK's public inbound classifier runs the same envelope schema as the pinned Server's dispatch
      // (and checks more): an envelope it calls modern the dispatch accepts; any other is left to the SDK.
      const route = classifyInboundRequest({ httpMethod: 'POST', body: { jsonrpc: '2.0', id: 0, method: 'tools/call', params: { _meta: envelope } } });
      ok = route.kind === 'modern' && MODERN_PROTOCOL_VERSIONS.includes(envelope[PROTOCOL_VERSION_KEY] as string);
      if (this.envelopes.size < 64) this.envelopes.set(key, ok);
    }
    return ok;
  }

  private legacyContext(params: Record<string, unknown>) {
    return (abort: AbortController) => ({ mcpReq: { signal: abort.signal, _meta: params._meta, notify: this.notify } }) as unknown as ServerContext;
  }

  /** What the Server's `_onrequest` gives the fallback handler of a 2026 request, as far as Upstream reads it. */
  private modernContext(req: JSONRPCRequest, l: Lifted) {
    const inputResponses = l.inputResponses === undefined ? undefined : acceptedResponses(l.inputResponses);
    return (abort: AbortController) =>
      ({
        mcpReq: {
          id: req.id,
          method: req.method,
          _meta: l.params._meta,
          envelope: l.envelope,
          ...(inputResponses !== undefined && { inputResponses }),
          requestState: () => l.requestState,
          signal: abort.signal,
          notify: this.notify,
        },
      }) as unknown as ServerContext;
  }

  /** A progress notification, written as the Server writes it (both eras: nothing stamped on it). */
  private readonly notify = (n: { method: string; params: Progress }) => (this.deps.write(JSON.stringify({ jsonrpc: '2.0', ...n }) + '\n'), Promise.resolve());

  private async call(req: JSONRPCRequest, params: Record<string, unknown>, context: (abort: AbortController) => ServerContext): Promise<void> {
    const abort = new AbortController();
    this.inFlight.set(req.id, abort);
    const { edge } = this.deps;
    const era = edge.era;
    try {
      const result = await this.deps.upstream.request(req.method, params, context(abort), edge);
      if (abort.signal.aborted) return; // cancelled: no answer, as on the SDK path
      this.deps.write(era === 'modern' ? modernAnswer(req.method, req.id, result as Record<string, unknown>) : legacyAnswer(req.id, result));
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
  private async listTools(id: RequestId, deliver: () => void): Promise<void> {
    try {
      const { upstream, edge } = this.deps;
      const { tools } = (await upstream.list('tools/list', 'legacy', upstream.asker(edge))) as { tools: { outputSchema?: unknown }[] };
      if (this.toolsJson?.tools !== tools && tools.some(needsLegacyWrap)) return deliver();
      this.deps.write(`{"result":{"tools":${this.toolsText(tools)}},"jsonrpc":"2.0","id":${JSON.stringify(id)}}\n`);
    } catch (e) {
      this.deps.write(errorLine(id, e));
    }
  }

  /** A 2026 client's list: the Server's list handler's result through the 2026 codec (the tools pre-serialised as above). */
  private async modernList(method: ListMethod, id: RequestId, envelope: Record<string, unknown>): Promise<void> {
    try {
      const { upstream, edge } = this.deps;
      const result = await upstream.list(method, 'modern', upstream.asker(edge, envelope));
      const tools = result.tools as unknown[] | undefined;
      if (method === 'tools/list' && !tools!.some((t) => isObject(t) && 'execution' in t)) {
        // {tools, ttlMs, cacheScope} from the handler; the codec adds resultType and `_meta`, in that order.
        const tail = JSON.stringify({ ttlMs: result.ttlMs, cacheScope: result.cacheScope, resultType: 'complete' }).slice(1, -1);
        this.deps.write(`{"result":{"tools":${this.toolsText(tools!)},${tail},"_meta":${SERVER_INFO_META}},"jsonrpc":"2.0","id":${JSON.stringify(id)}}\n`);
      } else this.deps.write(JSON.stringify({ result: encodeModern(method, result), jsonrpc: '2.0', id }) + '\n');
    } catch (e) {
      this.deps.write(errorLine(id, e));
    }
  }

  /** The tools array as JSON, once per routing build (a rebuild makes a new array). */
  private toolsText(tools: unknown[]): string {
    if (this.toolsJson?.tools !== tools) this.toolsJson = { tools, json: JSON.stringify(tools) };
    return this.toolsJson.json;
  }

  private readonly announced = new Set<Era>();
  /** Once per process and era, in the log file: the fast path is in use (tests look for it). */
  private announce(era: Era): void {
    if (this.announced.has(era)) return;
    this.announced.add(era);
    log.debug(`fast path: answering a ${era === 'legacy' ? '2025' : '2026-07-28'} client's calls and lists past the SDK Server (MCPX_FASTPATH=0 turns it off)`);
  }

  private cancel(params: unknown): boolean {
    const id = (params as { requestId?: RequestId } | undefined)?.requestId;
    const abort = id === undefined ? undefined : this.inFlight.get(id);
    if (!abort) return false;
    abort.abort((params as { reason?: unknown }).reason);
    return true;
  }
}

/** A retry's answers as the Server keeps them (its partitionInputResponses: answers, not requests or results). */
function acceptedResponses(inputResponses: unknown): Record<string, unknown> {
  const accepted: Record<string, unknown> = {};
  if (!isObject(inputResponses)) return accepted;
  for (const [k, v] of Object.entries(inputResponses)) if (isObject(v) && !('method' in v) && !('result' in v)) accepted[k] = v;
  return accepted;
}
