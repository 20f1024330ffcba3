import { classifyInboundRequest, type AuthInfo, type JSONRPCMessage, type JSONRPCRequest, type RequestId, type ServerContext, type Transport } from '@modelcontextprotocol/server';
import { tapTransport } from './listen.js';
import { Cancel } from '../util/cancel.js';
import type { Era, UpstreamEdge } from './bridge.js';
import { CLIENT_CAPABILITIES_KEY, CLIENT_INFO_KEY, LOG_LEVEL_KEY, MODERN_PROTOCOL_VERSIONS, PROTOCOL_VERSION_KEY } from './identity.js';
import type { ListMethod, Upstream } from './upstream.js';
import { SERVER_INFO_META, encodeModern, errorLine, isObject, legacyAnswer, legacyTools, modernAnswer } from './compat.js';

/**
 * The one route of a client's forwarded requests, both eras, stdio and HTTP: tools/call, resources/read,
 * prompts/get, completion/complete, the four lists, and (2025) resources/subscribe and unsubscribe.
 * Each is taken off the transport before the SDK Server sees it, run by `Upstream` (the status tool, refusals, the
 * call tracked on the client's edge, progress and cancel, a 2026 client's input_required rounds, the
 * pipeline with its cache, breaker, deadline, fallbacks and audit), and its answer written by compat.ts:
 * the child's own result text spliced in when mcpx did not change the result, else the result encoded
 * for the client's era. The SDK Server keeps the rest (the handshake, server/discover, ping,
 * logging/setLevel, subscriptions/listen, a child's questions to the client) and refuses what this
 * route leaves to it: a request whose envelope the SDK's classifier rejects, or a method the era lacks.
 *
 * The era is the connection's (the SDK pins it at initialize or at a 2026 request); before that, a
 * request with a 2026-07-28 envelope is modern and any other a 2025 one.
 */
export interface ForwarderDeps {
  /** The client's edge: its era, capabilities and calls in flight. */
  edge: UpstreamEdge;
  upstream: Upstream;
  /**
   * Writes one whole line to the client: an answer, or a notification of the request `id` (stdio: the
   * stream the SDK transport writes to, so in order; HTTP: that request's own stream, `forwarding`).
   */
  write(line: string, id: RequestId): void;
}

/** What the transport says of an inbound message (over HTTP: who sent it). */
type Extra = { authInfo?: AuthInfo } | undefined;

const CALLS: ReadonlySet<string> = new Set(['tools/call', 'resources/read', 'prompts/get', 'completion/complete']);
const LISTS: ReadonlySet<string> = new Set(['tools/list', 'prompts/list', 'resources/list', 'resources/templates/list']);
/** 2025 only: a 2026-07-28 client subscribes through subscriptions/listen (the SDK's). */
const SUBSCRIPTIONS: ReadonlySet<string> = new Set(['resources/subscribe', 'resources/unsubscribe']);
const FORWARDED: ReadonlySet<string> = new Set([...CALLS, ...LISTS, ...SUBSCRIPTIONS]);
/** The envelope keys the SDK lifts off a request's `_meta`, in its order. */
const RESERVED = [PROTOCOL_VERSION_KEY, CLIENT_INFO_KEY, CLIENT_CAPABILITIES_KEY, LOG_LEVEL_KEY];
/** A 2026 request's params with the wire-only material lifted off, as the SDK's protocol layer does. */
interface Lifted {
  params: Record<string, unknown>;
  envelope: Record<string, unknown>;
  inputResponses?: unknown;
  requestState?: unknown;
}

export class Forwarder {
  /** Requests in flight on this route, for the client's notifications/cancelled. */
  private readonly inFlight = new Map<RequestId, Cancel>();
  /** The tools array of one routing build as JSON, per era (a rebuild makes a new tools array). */
  private toolsJson?: { tools: unknown[]; legacy?: string; modern?: string };
  /** Envelopes (as text) the SDK's classifier accepted or rejected: a client sends the same one every time. */
  private readonly envelopes = new Map<string, boolean>();

  constructor(private readonly deps: ForwarderDeps) {}

  /** An initialize the SDK has not answered yet, and the end of that wait. */
  private handshake?: { id: RequestId; done: Promise<void>; end(): void };

  /**
   * An inbound message: true when this route took it (the SDK Server must not see it, unless handed on
   * by `deliver`). A request that comes while the SDK still handles an initialize waits for its answer:
   * the era and the client (its name, its capabilities) are the SDK's to learn first. The first
   * initialize is answered before the SDK has even loaded (first-answer.ts), so a client's next
   * requests often come before the SDK has read it.
   */
  take(m: JSONRPCMessage, deliver: () => void, extra?: Extra): boolean {
    if (!('method' in m)) return false;
    if (!('id' in m)) return m.method === 'notifications/cancelled' && this.cancel(m.params);
    if (m.method === 'initialize') {
      let end!: () => void;
      const done = new Promise<void>((r) => (end = r));
      this.handshake = { id: m.id, done, end };
      return false;
    }
    if (!this.handshake) return this.route(m, extra);
    if (!FORWARDED.has(m.method)) return false;
    void this.handshake.done.then(() => this.route(m, extra) || deliver());
    return true;
  }

  /** An answer the SDK sent (or that was sent for it): the end of a handshake. */
  sent(m: JSONRPCMessage): void {
    if (this.handshake && 'id' in m && m.id === this.handshake.id && !('method' in m)) {
      this.handshake.end();
      this.handshake = undefined;
    }
  }

  private route(m: JSONRPCRequest, extra: Extra): boolean {
    const { method } = m;
    if (!FORWARDED.has(method)) return false;
    const params = m.params ?? {};
    if (!isObject(params)) return false;
    const { edge } = this.deps;
    const era: Era = edge.era ?? (isObject(params._meta) && PROTOCOL_VERSION_KEY in params._meta ? 'modern' : 'legacy');
    if (era === 'legacy') {
      edge.era ??= era;
      if (LISTS.has(method)) void this.legacyList(method as ListMethod, m.id);
      else void this.call(m, 'legacy', legacyParams(params), this.legacyContext(m, params, extra));
      return true;
    }
    const lifted = SUBSCRIPTIONS.has(method) ? undefined : this.lift(params);
    if (!lifted) return false; // a method the era lacks, or an envelope the SDK refuses: its refusal
    edge.era ??= era;
    if (LISTS.has(method)) void this.modernList(method as ListMethod, m.id, lifted.envelope);
    else void this.call(m, 'modern', lifted.params, this.modernContext(m, lifted, extra));
    return true;
  }

  /**
   * The envelope and a retry's answers lifted off (as the SDK's protocol layer lifts them), when the
   * envelope is one the SDK accepts (its public classifier, once per distinct envelope); else undefined.
   */
  private lift(params: Record<string, unknown>): Lifted | undefined {
    const meta = params._meta;
    if (!isObject(meta) || !(PROTOCOL_VERSION_KEY in meta)) return undefined;
    const envelope: Record<string, unknown> = {};
    const rest: Record<string, unknown> = { ...meta };
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

  private envelopeAccepted(envelope: Record<string, unknown>): boolean {
    const key = JSON.stringify(envelope);
    let ok = this.envelopes.get(key);
    if (ok === undefined) {
      // The SDK's public inbound classifier runs the envelope schema the SDK's dispatch runs (and checks
      // more): an envelope it calls modern is accepted; any other is left to the SDK, which refuses it.
      const route = classifyInboundRequest({ httpMethod: 'POST', body: { jsonrpc: '2.0', id: 0, method: 'tools/call', params: { _meta: envelope } } });
      ok = route.kind === 'modern' && MODERN_PROTOCOL_VERSIONS.includes(envelope[PROTOCOL_VERSION_KEY] as string);
      if (this.envelopes.size < 64) this.envelopes.set(key, ok);
    }
    return ok;
  }

  /** What Upstream reads of a request's context (the shape of the SDK Server's handler context). */
  private legacyContext(req: JSONRPCRequest, params: Record<string, unknown>, extra: Extra) {
    return (abort: Cancel) =>
      ({ mcpReq: { id: req.id, method: req.method, signal: abort.signal, _meta: params._meta, notify: this.notifier(req.id) }, abort, ...(extra?.authInfo && { http: { authInfo: extra.authInfo } }) }) as unknown as ServerContext;
  }

  private modernContext(req: JSONRPCRequest, l: Lifted, extra: Extra) {
    const inputResponses = l.inputResponses === undefined ? undefined : acceptedResponses(l.inputResponses);
    return (abort: Cancel) =>
      ({
        mcpReq: {
          id: req.id,
          method: req.method,
          _meta: l.params._meta,
          envelope: l.envelope,
          ...(inputResponses !== undefined && { inputResponses }),
          requestState: () => l.requestState,
          signal: abort.signal,
          notify: this.notifier(req.id),
        },
        abort,
        ...(extra?.authInfo && { http: { authInfo: extra.authInfo } }),
      }) as unknown as ServerContext;
  }

  /** The notifications of one request (progress, a found tool's list_changed): nothing stamped on them, in either era. */
  private notifier(id: RequestId) {
    return (n: { method: string; params?: unknown }) => (this.deps.write(JSON.stringify({ jsonrpc: '2.0', ...n }) + '\n', id), Promise.resolve());
  }

  private async call(req: JSONRPCRequest, era: Era, params: Record<string, unknown>, context: (abort: Cancel) => ServerContext): Promise<void> {
    const abort = new Cancel();
    this.inFlight.set(req.id, abort);
    // Cancelled by the client (cancel() forgets it): no answer. Cancelled by mcpx (the session closing, the
    // controller being the call's too): the call's error is the answer.
    const answered = () => this.inFlight.get(req.id) === abort;
    try {
      const result = await this.deps.upstream.request(req.method, params, context(abort), this.deps.edge);
      if (answered()) this.deps.write(era === 'modern' ? modernAnswer(req.method, req.id, result as Record<string, unknown>) : legacyAnswer(req.id, result), req.id);
    } catch (e) {
      if (answered()) this.deps.write(errorLine(req.id, e), req.id);
    } finally {
      if (answered()) this.inFlight.delete(req.id);
    }
  }

  /** A 2025 client's list (a cursor is ignored: mcpx's lists are one page); the tools serialised once per routing build. */
  private async legacyList(method: ListMethod, id: RequestId): Promise<void> {
    try {
      const { upstream, edge } = this.deps;
      const result = await upstream.list(method, 'legacy', upstream.asker(edge));
      if (method !== 'tools/list') return this.deps.write(JSON.stringify({ result, jsonrpc: '2.0', id }) + '\n', id);
      this.deps.write(`{"result":{"tools":${this.toolsText(result.tools as unknown[], 'legacy')}},"jsonrpc":"2.0","id":${JSON.stringify(id)}}\n`, id);
    } catch (e) {
      this.deps.write(errorLine(id, e), id);
    }
  }

  /** A 2026 client's list: the list's result through the 2026 encoding (the tools pre-serialised as above). */
  private async modernList(method: ListMethod, id: RequestId, envelope: Record<string, unknown>): Promise<void> {
    try {
      const { upstream, edge } = this.deps;
      const result = await upstream.list(method, 'modern', upstream.asker(edge, envelope));
      const tools = result.tools as unknown[] | undefined;
      if (method === 'tools/list' && !tools!.some((t) => isObject(t) && 'execution' in t)) {
        // {tools, ttlMs, cacheScope} from the list; the encoding adds resultType and `_meta`, in that order.
        const tail = JSON.stringify({ ttlMs: result.ttlMs, cacheScope: result.cacheScope, resultType: 'complete' }).slice(1, -1);
        this.deps.write(`{"result":{"tools":${this.toolsText(tools!, 'modern')},${tail},"_meta":${SERVER_INFO_META}},"jsonrpc":"2.0","id":${JSON.stringify(id)}}\n`, id);
      } else this.deps.write(JSON.stringify({ result: encodeModern(method, result), jsonrpc: '2.0', id }) + '\n', id);
    } catch (e) {
      this.deps.write(errorLine(id, e), id);
    }
  }

  /** The tools array as JSON for an era, once per routing build (a rebuild makes a new array). */
  private toolsText(tools: unknown[], era: Era): string {
    if (this.toolsJson?.tools !== tools) this.toolsJson = { tools };
    return (this.toolsJson[era] ??= JSON.stringify(era === 'legacy' ? legacyTools(tools as { outputSchema?: unknown }[]) : tools));
  }

  private cancel(params: unknown): boolean {
    const id = (params as { requestId?: RequestId } | undefined)?.requestId;
    const abort = id === undefined ? undefined : this.inFlight.get(id);
    if (!abort) return false;
    this.inFlight.delete(id!);
    abort.abort((params as { reason?: unknown }).reason);
    return true;
  }
}

/**
 * An SDK transport whose forwarded requests take the route (HTTP: a 2025 session's transport, a 2026
 * request's own): the route's lines become messages on the request's stream, which the transport writes
 * as JSON; everything else reaches the Server connected to it.
 */
export function forwarding(transport: Transport, edge: UpstreamEdge, upstream: Upstream): Transport {
  const write = (line: string, id: RequestId) => void transport.send(JSON.parse(line), { relatedRequestId: id }).catch(() => undefined);
  const route = new Forwarder({ edge, upstream, write });
  return tapTransport(transport, { inbound: () => undefined, outbound: (m) => route.sent(m), take: (m, deliver, extra) => route.take(m, deliver, extra) });
}

/** A 2025 request's params as forwarded: a 2026 retry's answers, if a client sends them, are never the child's. */
function legacyParams(params: Record<string, unknown>): Record<string, unknown> {
  if (!('inputResponses' in params) && !('requestState' in params)) return params;
  const { inputResponses: _answers, requestState: _state, ...rest } = params;
  return rest;
}

/** A retry's answers as the SDK keeps them (answers, not requests or results). */
function acceptedResponses(inputResponses: unknown): Record<string, unknown> {
  const accepted: Record<string, unknown> = {};
  if (!isObject(inputResponses)) return accepted;
  for (const [k, v] of Object.entries(inputResponses)) if (isObject(v) && !('method' in v) && !('result' in v)) accepted[k] = v;
  return accepted;
}
