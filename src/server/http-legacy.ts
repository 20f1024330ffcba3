import { randomUUID } from 'node:crypto';
import { WebStandardStreamableHTTPServerTransport, type AuthInfo, type JSONRPCMessage } from '@modelcontextprotocol/server';
import { errorMessage } from '../errors.js';
import { log } from '../util/log.js';
import { UpstreamEdge } from './bridge.js';
import type { Sessions } from './sessions.js';
import type { Upstream } from './upstream.js';

interface Session {
  transport: WebStandardStreamableHTTPServerTransport;
  edge: UpstreamEdge;
}

/**
 * 2025-era clients over HTTP: one session each (`Mcp-Session-Id`), served by the SDK's sessionful
 * Streamable HTTP transport and a Server from the shared factory, on its own edge. A DELETE or the
 * end of the process closes a session: its calls in flight and open questions are cancelled, and the
 * URIs only it subscribed to are unsubscribed at their children. A POST whose connection drops
 * before its answer cancels the requests it carried (as the client's notifications/cancelled would).
 */
export class LegacySessions {
  private readonly open = new Map<string, Session>();

  constructor(
    private readonly upstream: Upstream,
    private readonly sessions: Sessions,
  ) {}

  get size(): number {
    return this.open.size;
  }

  async handle(request: Request, body: unknown, authInfo: AuthInfo): Promise<Response> {
    const id = request.headers.get('mcp-session-id');
    const session = id ? this.open.get(id) : await this.create();
    if (!session) return Response.json({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }, { status: 404 });
    if (request.method === 'POST') this.cancelOnDrop(request, body, session);
    const response = await session.transport.handleRequest(request, { parsedBody: body, authInfo });
    // Anything but a successful initialize leaves a session never opened: drop it at once.
    if (!id && session.transport.sessionId === undefined) await this.close(session);
    return response;
  }

  /** Cancels every session's calls in flight and open questions (the process stops; the sessions stay open to answer). */
  cancelAll(): void {
    for (const s of this.open.values()) s.edge.close();
  }

  /** Closes every session (the process stops). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.open.values()].map((s) => this.close(s)));
  }

  private async create(): Promise<Session> {
    const edge = this.sessions.open(new UpstreamEdge());
    edge.allUpdates = false; // resources/updated only for the URIs this session subscribed to
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sid) => void this.open.set(sid, session),
    });
    const session: Session = { transport, edge };
    transport.onclose = () => void this.close(session);
    const server = this.upstream.factoryFor(edge)({ era: 'legacy' });
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
