import { randomUUID } from 'node:crypto';
import { WebStandardStreamableHTTPServerTransport, isInitializeRequest, type AuthInfo, type JSONRPCMessage } from '@modelcontextprotocol/server';
import { errorMessage } from '../errors.js';
import { HTTP_LIMITS } from '../config/types.js';
import { log } from '../util/log.js';
import { UpstreamEdge } from './bridge.js';
import { untilDone } from './response-done.js';
import type { Sessions } from './sessions.js';
import type { Upstream } from './upstream.js';

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  edge: UpstreamEdge;
  /** When it was last asked anything (ms since the epoch), its GET streams open now, and its POSTs not yet answered in full. */
  seen: number;
  streams: number;
  busy: number;
}

/** A session with no request and no open stream for this long is closed (a client that died without DELETE). */
export const SESSION_IDLE_MS = 30 * 60_000;

/**
 * 2025-era clients over HTTP: one session each (`Mcp-Session-Id`), served by the SDK's sessionful
 * Streamable HTTP transport and a Server from the shared factory, on its own edge; its forwarded
 * requests take the route stdio's take (forward.ts), answered on their own request's stream. A DELETE or the
 * end of the process closes a session: its calls in flight and open questions are cancelled, and the
 * URIs only it subscribed to are unsubscribed at their children. A POST whose connection drops
 * before its answer cancels the requests it carried (as the client's notifications/cancelled would).
 * A session idle for `idleMs` (no request, no open GET stream) is closed too: its client gets 404 and
 * starts a new one, as the spec has it. A caller at its limit of sessions gets a new one in place of
 * its least recently used idle one (no request in flight, no open stream): clients that end without
 * DELETE (Gemini CLI 0.61, the SDK's close()) would otherwise lock their token out until the sweep.
 */
export class LegacySessions {
  private readonly open = new Map<string, Session>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly upstream: Pick<Upstream, 'factoryFor' | 'unsubscribe'>,
    private readonly sessions: Sessions,
    private readonly idleMs = SESSION_IDLE_MS,
    /** Sessions one caller may have open at once (`http.limits.sessions`). */
    private readonly maxPerCaller = HTTP_LIMITS.sessions,
  ) {
    this.sweeper = setInterval(() => this.sweep(), Math.min(60_000, idleMs));
    this.sweeper.unref();
  }

  get size(): number {
    return this.open.size;
  }

  /**
   * Room for one more session of this caller: below its limit, or once its least recently used idle
   * session is closed (that client gets 404 if it comes back, as after the sweep). False when every
   * session it has is in use.
   */
  private async makeRoom(caller: string): Promise<boolean> {
    let n = 0;
    let idlest: Session | undefined;
    for (const s of this.open.values()) {
      if (s.edge.caller !== caller) continue;
      n++;
      if (s.streams === 0 && s.busy === 0 && (!idlest || s.seen < idlest.seen)) idlest = s;
    }
    if (n < this.maxPerCaller) return true;
    if (!idlest) return false;
    log.info(`serve: closed ${caller}'s least recently used idle HTTP session for a new one (http.limits.sessions: ${this.maxPerCaller})`);
    await this.close(idlest);
    return true;
  }

  async handle(request: Request, body: unknown, authInfo: AuthInfo): Promise<Response> {
    const id = request.headers.get('mcp-session-id');
    const caller = authInfo.clientId;
    if (!id && isInitializeRequest(body) && !(await this.makeRoom(caller))) {
      log.warn(`serve: refused a new HTTP session for ${caller}: ${this.maxPerCaller} open, each with a request or stream open (http.limits.sessions)`);
      return refusal(429, `Too many sessions: this caller has ${this.maxPerCaller} open, each in use (http.limits.sessions); close one (DELETE)`);
    }
    const session = id ? this.open.get(id) : await this.create(caller);
    if (!session) return refusal(404, 'Session not found');
    // A session is its opener's: its questions, logs and calls are nobody else's, even with a valid token.
    if (session.edge.caller !== caller) {
      log.warn(`serve: refused a session id presented by another caller (${caller}); the session stays its opener's`);
      return refusal(403, 'Forbidden: this session was opened with another token');
    }
    session.seen = Date.now();
    const post = request.method === 'POST';
    if (post) {
      this.cancelOnDrop(request, body, session);
      session.busy++; // in use until its answer is sent in full: never closed for room meanwhile
    }
    const response = await session.transport.handleRequest(request, { parsedBody: body, authInfo }).catch((e: unknown) => {
      if (post) session.busy--;
      throw e;
    });
    // Anything but a successful initialize leaves a session never opened: drop it at once.
    if (!id && session.transport.sessionId === undefined) await this.close(session);
    if (post) return untilDone(request, response, () => (session.busy--, (session.seen = Date.now())));
    if (request.method === 'GET' && response.body) return this.stream(session, request, response);
    return response;
  }

  /** A GET stream keeps its session from being idle while it is open. */
  private stream(session: Session, request: Request, response: Response): Response {
    session.streams++;
    return untilDone(request, response, () => (session.streams--, (session.seen = Date.now())));
  }

  private sweep(): void {
    const before = Date.now() - this.idleMs;
    for (const s of this.open.values()) {
      if (s.streams === 0 && s.seen < before) {
        log.info(`serve: closing an HTTP session idle for ${Math.round(this.idleMs / 60_000)} min`);
        void this.close(s);
      }
    }
  }

  /** Cancels every session's calls in flight and open questions (the process stops; the sessions stay open to answer). */
  cancelAll(): void {
    for (const s of this.open.values()) s.edge.close();
  }

  /** Closes every session (the process stops). */
  async closeAll(): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.open.values()].map((s) => this.close(s)));
  }

  private async create(caller: string): Promise<Session> {
    const edge = this.sessions.open(new UpstreamEdge());
    edge.caller = caller;
    edge.allUpdates = false; // resources/updated only for the URIs this session subscribed to
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => void this.open.set(sid, session),
    });
    const session: Session = { transport, edge, seen: Date.now(), streams: 0, busy: 0 };
    transport.onclose = () => void this.close(session);
    const server = this.upstream.factoryFor(edge, { routed: true })({ era: 'legacy' });
    server.onerror = (e) => log.debug(`upstream (http session): ${errorMessage(e)}`);
    await server.connect(transport);
    return session;
  }

  private closing = new WeakSet<Session>();

  private async close(session: Session): Promise<void> {
    if (this.closing.has(session)) return;
    this.closing.add(session);
    if (session.transport.sessionId) this.open.delete(session.transport.sessionId);
    this.upstream.unsubscribe(this.sessions.close(session.edge));
    await session.transport.close().catch(() => undefined);
  }

  private cancelOnDrop(request: Request, body: unknown, session: Session): void {
    const ids = (Array.isArray(body) ? body : [body])
      .filter((m): m is { id: string | number; method: string } => !!m && typeof m === 'object' && 'method' in m && 'id' in m)
      .map((m) => m.id);
    if (!ids.length) return;
    request.signal.addEventListener('abort', () => {
      for (const requestId of ids) {
        const cancel: JSONRPCMessage = { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId, reason: 'the HTTP connection closed' } };
        session.transport.onmessage?.(cancel);
      }
    }, { once: true });
  }
}

/** A refused request, as a JSON-RPC error the client can show. */
export function refusal(status: number, message: string): Response {
  return Response.json({ jsonrpc: '2.0', error: { code: -32001, message }, id: null }, { status });
}
