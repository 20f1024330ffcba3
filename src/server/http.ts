import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMcpHandler, isLegacyRequest, type AuthInfo, type ClientCapabilities, type ServerEventBus } from '@modelcontextprotocol/server';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { McpxError, errorMessage } from '../errors.js';
import { log } from '../util/log.js';
import { UpstreamEdge } from './bridge.js';
import { openBackend, serveConfig, type ServeOptions } from './backend.js';
import { isLoopback } from '../util/loopback.js';
import { bearerGate, originGate } from './http-guard.js';
import { LegacySessions } from './http-legacy.js';
import { untilDone } from './response-done.js';
import { initialInstructions } from './instructions.js';
import { Listens, type Filter } from './listen.js';
import { stopper, untilStopped, STOP_BUDGET_MS } from './serve.js';
import { Sessions } from './sessions.js';
import { Upstream } from './upstream.js';

/**
 * `mcpx serve --http`: the same backend as stdio (one set of children for every client) behind
 * Streamable HTTP at /mcp, in both eras: 2025 sessions (LegacySessions) and stateless 2026-07-28
 * requests (the SDK's createMcpHandler, strict modern; its listen streams hear list_changed and
 * resources/updated through its bus). /healthz answers without a token; /mcp and /metrics need one
 * when tokens are configured (and always off loopback).
 */
export interface HttpServeOptions extends ServeOptions {
  host?: string;
  port?: number;
  /** GET /metrics: the Prometheus text (`mcpx stats --prometheus`), given by the command (app/ is above server/). */
  metrics?: (configFile: string) => Promise<string>;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8808;

/**
 * What children are told an HTTP client supports before (and besides) the clients connected: form
 * elicitation (which Claude Code answers) and sampling (which other clients, the conformance suite's
 * among them, answer). Children declare their client capabilities once, when they start, and a team
 * server starts them before anyone connects; the connected sessions' own capabilities are added (union)
 * for children that start later. Both are asked only within a call, of the client that made it; a
 * client without the capability answers for itself (Method not found), as it would over stdio. Roots
 * are not declared: servers ask for them at start, when no client is there to answer.
 */
const HTTP_CLIENT_CAPABILITIES: ClientCapabilities = { elicitation: { form: {} }, sampling: {} };

/** How long in-flight requests may finish after SIGINT/SIGTERM before they are cancelled. */
const GRACE_MS = 1500;
/** And how long the cancelled ones may take to send their error answer. */
const ANSWER_MS = 300;

export async function serveHttp(opts: HttpServeOptions = {}): Promise<void> {
  const config = serveConfig(opts);
  const host = opts.host ?? config.http.host ?? DEFAULT_HOST;
  const port = opts.port ?? config.http.port ?? DEFAULT_PORT;
  const tokens = config.http.tokens;
  if (config.http.problem) throw config.http.problem;
  if (!tokens.length && !isLoopback(host)) {
    throw new McpxError(`serve --http: a token is required to listen on ${host} (not a loopback address): set "http.tokens" in ${config.file}`, {
      code: 'CONFIG_INVALID', file: config.file, field: 'http.tokens',
      suggestion: `add "http": {"tokens": ["\${TEAM_TOKEN}"]} to ${config.file} (the value from the environment or .env), or listen on 127.0.0.1`,
    });
  }

  const instructions = await initialInstructions(config);
  const sessions = new Sessions({ defaults: HTTP_CLIENT_CAPABILITIES });
  const back = openBackend(config, sessions, opts);
  const listens = new Listens();
  const upstream = new Upstream(instructions, back.backend, sessions, listens, back.start, config.toolSearch);
  back.start(); // a team server starts its children at once: the first caller does not wait, /healthz tells the truth

  // Every 2026-07-28 request: one edge (no session; a flight is found again by its requestState).
  const modernEdge = sessions.open(new UpstreamEdge());
  modernEdge.stateless = true; // each request may be another client's: a question goes to its own request only
  // Each request's Server has its own transport: its request takes the route there.
  const modern = createMcpHandler(upstream.factoryFor(modernEdge, { routed: true }), { legacy: 'reject', onerror: (e) => log.debug(`upstream (http): ${errorMessage(e)}`) });
  modernEdge.send = (n) => publish(modern.bus, n);
  const limits = config.http.limits;
  const legacy = new LegacySessions(upstream, sessions, undefined, limits.sessions);

  const authorize = bearerGate(tokens);
  const guard = originGate(host);
  // Requests whose answer is awaited (not the long-lived streams): a stop lets them finish for a moment.
  let inFlight = 0;
  let idle: (() => void) | undefined;
  const drained = (ms: number) => (inFlight > 0 ? new Promise<void>((r) => ((idle = r), setTimeout(r, ms).unref())) : Promise.resolve());
  const counted = async (request: Request, run: () => Promise<Response>): Promise<Response> => {
    inFlight++;
    const done = () => --inFlight === 0 && idle?.();
    return untilDone(request, await run().catch((e: unknown) => (done(), Promise.reject(e))), done);
  };
  const fetch = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    // DNS rebinding: a page must not read even the health of the servers behind this one.
    const refused = guard(request);
    if (refused) return refused;
    if (path === '/healthz' && request.method === 'GET') return health(await back.backend);
    if (path !== '/mcp' && path !== '/metrics') return Response.json({ error: 'not found', endpoints: ['/mcp', '/healthz', '/metrics'] }, { status: 404 });
    const caller = authorize(request);
    if (caller instanceof Response) return caller;
    if (path === '/metrics') {
      if (!opts.metrics) return Response.json({ error: 'not found' }, { status: 404 });
      return new Response(await opts.metrics(config.file), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } });
    }
    // The caller's name reaches the handlers (ctx.http.authInfo) and the audit trail; the token never does.
    const authInfo: AuthInfo = { token: '', clientId: caller.name, scopes: [] };
    const body = request.method === 'POST' ? await request.clone().json().catch(() => undefined) : undefined;
    if (await isLegacyRequest(request, body)) {
      return request.method === 'POST' ? counted(request, () => legacy.handle(request, body, authInfo)) : legacy.handle(request, body, authInfo);
    }
    const m = body as { id?: unknown; method?: string; params?: { notifications?: Filter } } | undefined;
    if (m?.method !== 'subscriptions/listen') return counted(request, () => modern.fetch(request, { authInfo, parsedBody: body }));
    const uris = m.params?.notifications?.resourceSubscriptions;
    if (Array.isArray(uris) && uris.length > limits.listenUris) {
      const message = `subscriptions/listen: ${uris.length} resource URIs in one filter, more than the ${limits.listenUris} allowed (http.limits.listenUris)`;
      return Response.json({ jsonrpc: '2.0', id: m.id ?? null, error: { code: -32602, message } }, { status: 400 });
    }
    // A listen stream is known to Listens while it is open: the children owning its URIs stay subscribed.
    const key = {};
    listens.open(key, m.params?.notifications ?? {});
    return untilDone(request, await modern.fetch(request, { authInfo, parsedBody: body }), () => listens.end(key));
  };

  const server = createServer(toNodeHandler({ fetch }, {
    maxRequestBodySize: limits.requestBytes, // larger: 413 with a JSON-RPC error naming the limit
    onerror: (e) => log.debug(`http: ${errorMessage(e)}`),
  }) as (req: IncomingMessage, res: ServerResponse) => void);

  const outcome = stopper(async () => {
    // Stop accepting; let the requests in flight finish for a moment, then cancel what is left (their
    // clients get the cancelled call's error answer), then close the sessions and streams.
    server.close();
    server.closeIdleConnections();
    await drained(GRACE_MS);
    legacy.cancelAll();
    sessions.close(modernEdge);
    await drained(ANSWER_MS);
    await legacy.closeAll();
    await modern.close();
    listens.closeAll();
    const killed = await back.stop();
    server.closeAllConnections();
    return killed;
  }, () => {
    back.kill();
    server.closeAllConnections();
  }, STOP_BUDGET_MS + GRACE_MS + ANSWER_MS);
  await untilStopped(outcome, async () => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new McpxError(`serve --http: cannot listen on ${host}:${port}: ${e.code ?? errorMessage(e)}`, { code: 'CONFIG_INVALID', field: 'http.port', file: config.file, cause: e, suggestion: 'choose another --port (0: any free port)' })));
      server.listen(port, host, () => resolve());
    }).catch(async (e: unknown) => {
      outcome.stop('could not listen');
      await outcome.done;
      throw e;
    });
    const at = server.address() as AddressInfo;
    const shown = at.family === 'IPv6' ? `[${at.address}]` : at.address;
    const who = tokens.length ? `${tokens.length} token${tokens.length > 1 ? 's' : ''}` : 'no token: loopback only';
    log.info(`serving MCP over HTTP at http://${shown}:${at.port}/mcp (${who})`); // never a token: only how many
  });
}

/** A child's notification onto the 2026 listen streams (the bus filters per stream). */
function publish(bus: ServerEventBus, n: { method: string; params?: Record<string, unknown> }): void {
  const kind = ({
    'notifications/tools/list_changed': 'tools_list_changed',
    'notifications/prompts/list_changed': 'prompts_list_changed',
    'notifications/resources/list_changed': 'resources_list_changed',
  } as const)[n.method];
  if (kind) bus.publish({ kind });
  else if (n.method === 'notifications/resources/updated' && typeof n.params?.uri === 'string') bus.publish({ kind: 'resource_updated', uri: n.params.uri, params: n.params });
}

/** GET /healthz: the status snapshot's overall health (as `mcpx__status` and doctor see it), and each server's state. */
function health(b: { status(): Record<string, unknown> }): Response {
  const s = b.status() as { health: string; servers: Record<string, { state: string }> };
  const servers = Object.fromEntries(Object.entries(s.servers).map(([name, v]) => [name, v.state]));
  return Response.json({ status: s.health, servers }, { status: s.health === 'critical' ? 503 : 200, headers: { 'cache-control': 'no-store' } });
}

