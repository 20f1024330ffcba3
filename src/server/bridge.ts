import { randomUUID } from 'node:crypto';
import { CLIENT_CAPABILITIES_META_KEY, ProtocolError, ProtocolErrorCode, type ClientCapabilities, type LoggingLevel, type Progress, type RequestId, type Server, type ServerContext } from '@modelcontextprotocol/server';
import { QuestionRefused } from '../children/asking.js';
import { log } from '../util/log.js';
import { Cancel, abortSignal } from '../util/cancel.js';

/**
 * How children reach the upstream client (elicitation, roots, sampling), in the client's era:
 * - 2025 client: a real server→client request, as before.
 * - 2026-07-28 client: there are no server→client requests. A child's request is handed to a
 *   request of that client still in flight for the child (a `Flight`), which answers the client
 *   `input_required`; the client's retry carries the answer back (see `stepped` in upstream.ts).
 * Children call the same `request` whatever their own era (a modern child's input_required legs too).
 */
export type Era = 'legacy' | 'modern';

/** Any result, unparsed: what the client answers goes back to the child as it is. */
export const Loose = { '~standard': { version: 1 as const, vendor: 'mcpx', validate: (value: unknown) => ({ value }) } };

/** A child's server→client request waiting for a modern client's answer. */
export interface Ask {
  method: string;
  params: Record<string, unknown>;
  resolve(result: Record<string, unknown>): void;
  reject(error: unknown): void;
}

export type Step = { done: unknown } | { error: unknown } | { ask: Ask };

/** The client capability each server→client method needs. */
const NEEDS: Record<string, keyof ClientCapabilities> = {
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
  'sampling/createMessage': 'sampling',
};

/** The order in which calls started, across every client: among one client's calls, a question goes to the oldest. */
let started = 0;

/**
 * One upstream request in flight to a child: what a child's question is routed by (sessions.ts).
 * `client` is who would be asked: the session (2025 over HTTP, and stdio's only client), or over HTTP
 * the 2026 request itself (nothing ties two stateless requests to one client).
 */
export interface Asker {
  readonly edge: UpstreamEdge;
  readonly client: object;
  /** The child the request went to (undefined: not known yet, so it may be any). */
  readonly child: string | undefined;
  readonly order: number;
}

/**
 * One modern upstream request (tools/call, read, prompt, completion) whose child work may span several
 * input_required rounds: the child's call keeps running between the client's retries.
 */
export class Flight implements Asker {
  readonly abort = new AbortController();
  readonly order = ++started;
  readonly client: object;
  private asks: Ask[] = [];
  private outcome?: Step;
  private waiter?: (s: Step) => void;
  /** Where the child's progress goes: the client's current leg (none between legs). */
  progress?: (p: Progress) => void;

  constructor(
    readonly edge: UpstreamEdge,
    /** The child the request went to (undefined: unknown, takes any child's request). */
    readonly child: string | undefined,
    readonly caps: ClientCapabilities,
    /** Who made it (the token's name over HTTP): only they may answer its questions. */
    readonly caller: string | undefined,
  ) {
    this.client = edge.stateless ? this : edge;
  }

  /** Runs the request; a child request may arrive as soon as it runs, so the flight is findable first. */
  start(run: (signal: AbortSignal, progress: (p: Progress) => void, asker: Asker) => Promise<unknown>): void {
    Promise.resolve()
      .then(() => run(this.abort.signal, (p) => this.progress?.(p), this))
      .then(
        (done) => this.settle({ done }),
        (error) => this.settle({ error }),
      );
  }

  /** The request's next step: its result, or the first child request that needs the client. */
  next(): Promise<Step> {
    return new Promise((resolve) => {
      this.waiter = resolve;
      this.pump();
    });
  }

  get finished(): boolean {
    return this.outcome !== undefined;
  }

  /** The client of this request declared what `method` needs. */
  accepts(method: string): boolean {
    const need = NEEDS[method];
    return need !== undefined && this.caps[need] !== undefined;
  }

  push(ask: Ask): void {
    this.asks.push(ask);
    this.pump();
  }

  drop(ask: Ask): void {
    this.asks = this.asks.filter((a) => a !== ask);
  }

  private settle(s: Step): void {
    this.outcome = s;
    for (const a of this.asks.splice(0)) a.reject(new Error('the request this belonged to has ended'));
    this.pump();
  }

  private pump(): void {
    const w = this.waiter;
    if (!w) return;
    const step = this.outcome ?? (this.asks.length ? { ask: this.asks.shift()! } : undefined);
    if (!step) return;
    this.waiter = undefined;
    w(step);
  }
}

/** A child's request handed to the client as input_required, waiting for the retry that answers it. */
interface Pending {
  flight: Flight;
  ask: Ask;
  timer: NodeJS.Timeout;
}

/** How long a client may take to answer an input_required (as the legacy request timeout). */
const ANSWER_TIMEOUT_MS = 600_000;

/**
 * A 2025 client's forwarded request in flight to a child: cancelled when the client's session closes.
 * Its cancellation is the route's own AbortController when the route hands one in (no second signal
 * per call), else a controller of its own that follows the request's signal.
 */
class Call implements Asker {
  readonly order = ++started;
  readonly abort: AbortController | Cancel;
  /** The request's signal this call follows (none: the route's controller is the call's). */
  private readonly upstream?: AbortSignal;

  constructor(
    readonly edge: UpstreamEdge,
    readonly child: string | undefined,
    /** Its JSON-RPC id: a question during it goes out on its own stream (HTTP), not the standalone one. */
    readonly requestId: RequestId | undefined,
    cancel: AbortSignal | AbortController | Cancel,
  ) {
    if (cancel instanceof AbortController || cancel instanceof Cancel) {
      this.abort = cancel;
      return;
    }
    this.abort = new AbortController();
    if (cancel.aborted) this.abort.abort(cancel.reason);
    else {
      this.upstream = cancel;
      cancel.addEventListener('abort', this); // handleEvent below: no closure per call
    }
  }

  /** The request was cancelled upstream. */
  handleEvent(): void {
    this.abort.abort(this.upstream!.reason);
  }

  /** The call is over: it no longer follows the request's signal. */
  done(): void {
    this.upstream?.removeEventListener('abort', this);
  }

  get client(): object {
    return this.edge;
  }
}

/** A child's request to a child matches a request in flight to it, or to a child not known yet. */
const to = (child: string | undefined) => (a: Asker) => child === undefined || a.child === undefined || a.child === child;

/**
 * One upstream client: over stdio the only one, over HTTP one 2025 session (or all 2026-07-28 requests,
 * which carry no session: their flights are told apart by requestState). `Sessions` routes the
 * children's requests and notifications over the edges.
 */
export class UpstreamEdge {
  /** The Server pinned for the connection (the last one the factory built) and its era. */
  server?: Server;
  era?: Era;
  /** A modern client's capabilities, from the envelope of its latest request. */
  envelopeCapabilities?: ClientCapabilities;
  /** Where this client's notifications go (HTTP 2026: the listen streams' bus instead of a Server). */
  send = (n: { method: string; params?: Record<string, unknown> }): void => void this.server?.notification(n as never).catch(() => undefined);

  /** A notification that belongs to one request of this client: a 2025 client hears it on that request's own stream. */
  notify(n: { method: string; params?: Record<string, unknown> }, asker?: Asker): void {
    if (this.era !== 'legacy' || !(asker instanceof Call) || asker.requestId === undefined) return this.send(n);
    void this.server?.notification(n as never, { relatedRequestId: asker.requestId }).catch(() => undefined);
  }
  /** Hears every resources/updated (stdio, and HTTP 2026 whose listen router filters), not only its own subscriptions. */
  allUpdates = true;
  /** HTTP's 2026 edge: its requests carry no session, each may come from another client (and caller). */
  stateless = false;
  /** The session's token name over HTTP (2025): its session and questions are its own. */
  caller?: string;
  /** The level this client asked for with logging/setLevel (2025); undefined: everything the children send. */
  logLevel?: LoggingLevel;
  private flights = new Set<Flight>();
  private pending = new Map<string, Pending>();
  private calls = new Set<Call>();

  /**
   * Runs a 2025 client's forwarded request (JSON-RPC id `requestId`), findable by the child's requests
   * and cancelled by close(); `run` gets it as the asker a child's question during it belongs to.
   * `cancel` is the request's cancellation: its signal (the call gets a signal of its own that follows
   * it), or the route's own AbortController, which the call then uses as it is: one signal per call
   * instead of two, and close() aborts that controller.
   */
  async track<T>(child: string | undefined, cancel: AbortSignal | AbortController | Cancel, run: (signal: AbortSignal, asker: Asker) => Promise<T>, requestId?: RequestId): Promise<T> {
    const call = new Call(this, child, requestId, cancel);
    this.calls.add(call);
    try {
      return await run(call.abort.signal, call);
    } finally {
      this.calls.delete(call);
      call.done();
    }
  }

  /** This client's requests in flight that a question of `child` may belong to. */
  inFlight(child: string | undefined): Asker[] {
    const out: Asker[] = [];
    for (const c of this.calls) if (to(child)(c)) out.push(c);
    for (const f of this.flights) if (!f.finished && to(child)(f)) out.push(f);
    return out;
  }

  capabilities(): ClientCapabilities {
    return (this.era === 'modern' ? this.envelopeCapabilities : this.server?.getClientCapabilities()) ?? {};
  }

  /** The capabilities of the client that sent this request (modern: its envelope). */
  capabilitiesOf(ctx: ServerContext): ClientCapabilities {
    return ((ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY] as ClientCapabilities | undefined) ?? this.server?.getClientCapabilities() ?? {};
  }

  /**
   * Asks this client a child's question, within `asker` (one of this edge's requests in flight; none:
   * stdio's client outside any call). A 2025 client gets it on that request's own stream.
   */
  async request(method: string, params: unknown, signal: AbortSignal, asker?: Asker): Promise<Record<string, unknown>> {
    const p = (params ?? {}) as Record<string, unknown>;
    if (this.era === 'modern') return this.ask(method, p, signal, asker instanceof Flight ? asker : undefined);
    if (!this.server) throw new QuestionRefused(method, 'no MCP client is connected');
    // A 2025 client needs an elicitationId in URL mode; a 2026 child's request has none.
    const out = method === 'elicitation/create' && p.mode === 'url' && p.elicitationId === undefined ? { ...p, elicitationId: randomUUID() } : p;
    const relatedRequestId = asker instanceof Call ? asker.requestId : undefined;
    return this.server.request({ method, params: out }, Loose, { signal: abortSignal(signal), timeout: ANSWER_TIMEOUT_MS, relatedRequestId }) as Promise<Record<string, unknown>>;
  }

  /** Hands a child's request to a modern request in flight (as input_required on its next leg). */
  private ask(method: string, params: Record<string, unknown>, signal: AbortSignal, flight: Flight | undefined): Promise<Record<string, unknown>> {
    if (!flight || flight.finished) return Promise.reject(new QuestionRefused(method, 'no request of the client is in flight to this server'));
    if (!flight.accepts(method)) return Promise.reject(new QuestionRefused(method, `the client did not declare ${NEEDS[method] ?? method}`));
    return new Promise((resolve, reject) => {
      const ask: Ask = { method, params, resolve, reject };
      signal.addEventListener('abort', () => {
        flight.drop(ask);
        reject(signal.reason);
      }, { once: true });
      flight.push(ask);
    });
  }

  /**
   * One leg of a modern request: the first one starts the flight, a retry (its requestState) answers
   * the child's pending request. Returns the result, or an input_required for the next question.
   */
  async leg(ctx: ServerContext, child: string | undefined, run: (signal: AbortSignal, progress: (p: Progress) => void, asker: Asker) => Promise<unknown>, onLeg: (flight: Flight) => Promise<Step>): Promise<unknown> {
    const state = ctx.mcpReq.requestState<string>();
    const caller = ctx.http?.authInfo?.clientId;
    let flight: Flight;
    if (state !== undefined) {
      const p = typeof state === 'string' ? this.pending.get(state) : undefined;
      if (!p) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid or expired requestState');
      // Another caller's continuation is not theirs to answer (nor to learn of): as unknown, and it stays pending.
      if (p.flight.caller !== caller) {
        log.warn(`serve: refused a requestState presented by another caller (${caller ?? 'none'})`);
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid or expired requestState: it belongs to another caller');
      }
      this.pending.delete(state);
      clearTimeout(p.timer);
      flight = p.flight;
      const answer = ctx.mcpReq.inputResponses?.input;
      if (answer && typeof answer === 'object') p.ask.resolve(answer as Record<string, unknown>);
      else p.ask.reject(new Error('the client answered without an input response'));
    } else {
      flight = new Flight(this, child, this.capabilitiesOf(ctx), caller);
      this.flights.add(flight);
      flight.start(run);
    }
    const step = await onLeg(flight);
    if ('done' in step) {
      this.flights.delete(flight);
      return step.done;
    }
    if ('error' in step) {
      this.flights.delete(flight);
      throw step.error;
    }
    // A single-use key, not data: the state never leaves mcpx but as this random id.
    const id = randomUUID();
    const timer = setTimeout(() => this.expire(id), ANSWER_TIMEOUT_MS);
    timer.unref();
    this.pending.set(id, { flight, ask: step.ask, timer });
    return { resultType: 'input_required', inputRequests: { input: { method: step.ask.method, params: step.ask.params } }, requestState: id };
  }

  /** A question the client never answered: the child hears a decline, its request is cancelled. */
  private expire(id: string): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (p.ask.method === 'elicitation/create') p.ask.resolve({ action: 'cancel' });
    else p.ask.reject(new Error('the client did not answer in time'));
    p.flight.abort.abort(new Error('the client did not answer an input request in time'));
    this.flights.delete(p.flight);
  }

  /** The connection (or session) is gone: every open question and every call in flight is cancelled. */
  close(): void {
    for (const id of [...this.pending.keys()]) this.expire(id);
    const gone = new Error('the client closed its session');
    for (const c of this.calls) c.abort.abort(gone);
    for (const f of this.flights) f.abort.abort(gone);
  }
}
