import { ProtocolError, ProtocolErrorCode, Server, type Progress, type ServerContext, type Transport } from '@modelcontextprotocol/server';
import { forwarding } from './forward.js';
import type { Cancel } from '../util/cancel.js';
import type { Child } from '../children/child.js';
import type { CallOptions, Pipeline } from '../pipeline/call.js';
import type { Hub, ListKind } from '../runtime/hub.js';
import type { Era, Step, UpstreamEdge } from './bridge.js';
import type { Listens } from './listen.js';
import type { Sessions } from './sessions.js';
import type { ToolSearchConfig } from '../config/types.js';
import { CLIENT_INFO_KEY, SERVER_CAPABILITIES, SERVER_INFO, STATUS_TOOL } from './identity.js';
import { legacyToolResult } from './compat.js';
import { localCaller } from '../util/caller.js';
import { CALL_TOOL, FIND_TOOLS, MORE_TOOL } from './own-tools.js';
import { Pages } from './pages.js';
import { pageNote } from '../pipeline/budget.js';
import { DEFAULT_LIMIT, MAX_LIMIT, ToolSearch, type Asker } from './tool-search/index.js';

/**
 * The upstream side that Claude Code talks to, in either era: the SDK Server of each client (the
 * handshake and what the SDK keeps), what a forwarded request does once forward.ts has taken it off the
 * wire (lists, calls, reads, prompts, completions, subscriptions, mcpx's own tools), and the
 * notifications forwarded both ways. Routing and calls are the pipeline's; this file only translates
 * between the protocol and it.
 */
export { SERVER_INFO } from './identity.js';

/** mcpx's own tool (identity.ts: the early list needs it without the SDK) and resource: the status snapshot as JSON. */
export { STATUS_TOOL } from './identity.js';
export const STATUS_URI = 'mcpx://status';

/** What the handlers serve from: built after the transport is connected, off the initialize path. */
export interface Backend {
  hub: Hub;
  pipeline: Pipeline;
  /** Resolves when the lists are worth answering (children with no stored catalog have had their chance). */
  settled(): Promise<void>;
  /** The status snapshot as `viewer` (a team server's caller; undefined: this host's user) may see it. */
  status(viewer?: string): Record<string, unknown>;
}

/** A forwarded request's context as forward.ts builds it: the SDK handler context's shape, and the route's controller of the request. */
export type RequestContext = ServerContext & { abort?: Cancel };

/** A modern client may keep mcpx's lists this long while it listens for their changes (the v2 client's cap). */
export const LIST_TTL_MS = 86_400_000;

export type ListMethod = 'tools/list' | 'prompts/list' | 'resources/list' | 'resources/templates/list';

const LIST_CHANGED = ['notifications/tools/list_changed', 'notifications/prompts/list_changed', 'notifications/resources/list_changed'];

/**
 * The upstream side of one process: `factoryFor(edge)` gives the factory of one client's Servers
 * (serveStdio calls it once per opening, a discover probe and then initialize build two; HTTP once per
 * 2025 session, and per 2026 request), cheap because the backend lives outside it. Each client's
 * notifications go to the instance pinned last on its edge; `sessions` routes between clients.
 */
export class Upstream {
  /** Tool search: what each client's tools/list holds, mcpx__find_tools and mcpx__call_tool. */
  readonly search: ToolSearch;
  /** What the output budget cut off, per session, for mcpx__more. */
  private readonly pages = new Pages();

  constructor(
    private readonly instructions: string | undefined,
    private readonly backend: Promise<Backend>,
    readonly sessions: Sessions,
    private readonly listens: Listens,
    /** The client has shown it is real (initialized, or a modern request other than discover): start children. */
    private readonly onStart: () => void,
    toolSearch: ToolSearchConfig = { mode: 'off', budget: 40, always: [] },
  ) {
    this.search = new ToolSearch(toolSearch);
    void backend.then((b) => this.wireNotifications(b));
    listens.onSubscription = (uri, on) => {
      if (on) sessions.hold(listens, uri);
      if (on || sessions.release(listens, uri)) void this.subscribe(uri, on ? 'resources/subscribe' : 'resources/unsubscribe', new AbortController().signal).catch(() => undefined);
    };
  }

  /** One client's URIs nobody else holds (its session closed): their children are unsubscribed. */
  unsubscribe(uris: string[]): void {
    for (const uri of uris) void this.subscribe(uri, 'resources/unsubscribe', new AbortController().signal).catch(() => undefined);
  }

  /**
   * A client's Server: the handshake, discover, ping, a 2025 client's setLevel and roots changes. Its
   * forwarded requests never reach it: they take forward.ts on its transport.
   */
  factoryFor = (edge: UpstreamEdge, { routed = false } = {}) => ({ era }: { era: Era }): Server => {
    const options = {
      instructions: this.instructions,
      capabilities: SERVER_CAPABILITIES, // identity.ts: the early initialize answer says the same
      // Several children starting at once must not become a storm of list_changed upstream.
      debouncedNotificationMethods: LIST_CHANGED,
    };
    // `routed` (HTTP): the Server puts the route on each transport it gets; over stdio serve.ts puts it on the one transport.
    const server = routed ? new RoutedServer(edge, this, SERVER_INFO, options) : new Server(SERVER_INFO, options);
    edge.server = server;
    edge.era = era;
    if (era === 'legacy') server.oninitialized = () => this.onStart();
    if (era === 'legacy') this.installLegacy(server, edge);
    return server;
  };

  private async lists(): Promise<Backend['hub']['routing']> {
    const b = await this.backend;
    await b.settled();
    return b.hub.routing;
  }

  /** A 2025 client's own requests: its log level, its roots changing. */
  private installLegacy(server: Server, edge: UpstreamEdge): void {
    // logging/setLevel: this client's own level (what it hears); the children are told the most
    // verbose level any client needs (now and when they start), and each client's lines are filtered.
    server.setRequestHandler('logging/setLevel', async (req) => {
      edge.logLevel = req.params.level;
      (await this.backend).hub.children.forEach((c) => this.sendLevel(c));
      return {};
    });
    server.setNotificationHandler('notifications/roots/list_changed', async () => {
      await Promise.all((await this.backend).hub.children.map((c) => c.notify('notifications/roots/list_changed')));
    });
  }

  /**
   * Who is asking, for tool search: the client's name (2025: from its initialize; 2026-07-28: from the
   * request's envelope) and, when the edge is one client's, the edge (its found tools).
   */
  asker(edge: UpstreamEdge, envelope?: Record<string, unknown>): Asker {
    const info = envelope?.[CLIENT_INFO_KEY] as { name?: unknown } | undefined;
    const client = edge.era === 'modern' ? info?.name : edge.server?.getClientVersion()?.name;
    return { client: typeof client === 'string' ? client : undefined, key: edge.stateless ? undefined : edge };
  }

  /** A list's result for a client of `era` (forward.ts writes it). */
  async list(method: ListMethod, era: Era, who: Asker = {}): Promise<Record<string, unknown>> {
    const routing = await this.lists();
    // Modern lists say how long they stay good: long while the client hears of changes, else not at all.
    const hint = (kind: ListKind) => (era === 'modern' ? { ttlMs: this.listens.hears(kind) ? LIST_TTL_MS : 0, cacheScope: 'private' as const } : {});
    switch (method) {
      case 'tools/list':
        (await this.backend).hub.recheckPins(); // an approval made by `mcpx approve` since the last look
        return { tools: this.search.listing(routing, who), ...hint('tools') };
      case 'prompts/list':
        return { prompts: routing.prompts, ...hint('prompts') };
      case 'resources/list':
        return { resources: [...routing.resources, { uri: STATUS_URI, name: 'mcpx status', mimeType: 'application/json' }], ...hint('resources') };
      case 'resources/templates/list':
        return { resourceTemplates: routing.resourceTemplates, ...hint('resources') };
    }
  }

  /**
   * A forwarded request of one client (its edge), as forward.ts takes it off the wire: a 2026 retry's
   * answers and state already lifted off its params.
   */
  async request(method: string, params: Record<string, unknown>, ctx: ServerContext, edge: UpstreamEdge): Promise<unknown> {
    switch (method) {
      case 'tools/call':
        return this.callTool(params, ctx, edge);
      case 'resources/read':
        return this.read(params, ctx, edge);
      case 'prompts/get': {
        const b = await this.backend;
        return this.forward(ctx, edge, b.hub.routing.promptRoutes.get(String(params.name))?.child, (o) => b.pipeline.run({ kind: 'prompt', params: params as never }, o));
      }
      case 'completion/complete':
        return this.complete(params, ctx, edge);
      case 'resources/subscribe':
      case 'resources/unsubscribe': {
        // A URI stays subscribed at its child while any client holds it.
        const uri = String(params.uri);
        if (method === 'resources/subscribe') this.sessions.hold(edge, uri);
        else if (!this.sessions.release(edge, uri)) return {};
        return withCall(ctx, (o) => this.subscribe(uri, method as 'resources/subscribe', o.signal, o));
      }
      default:
        throw new ProtocolError(ProtocolErrorCode.MethodNotFound, 'Method not found');
    }
  }

  private async callTool(params: Record<string, unknown>, ctx: ServerContext, edge: UpstreamEdge): Promise<unknown> {
    const b = await this.backend;
    const name = String(params.name);
    if (name === STATUS_TOOL.name) {
      const status = b.status(viewerOf(ctx));
      return { content: [{ type: 'text', text: JSON.stringify(status, null, 2) }], structuredContent: status };
    }
    if (name === FIND_TOOLS.name) return this.findTools(params, ctx, edge);
    if (name === CALL_TOOL.name) return this.callThrough(params, ctx, edge);
    if (name === MORE_TOOL.name) return this.more(params, ctx, edge);
    const refused = await b.hub.refusalAfterSettling(name, b.settled);
    if (refused) return refused;
    const route = b.hub.routing.toolRoutes.get(name);
    // The output budget applies: what it cuts off is kept for this client's session (mcpx__more).
    const result = this.forward(ctx, edge, route?.child, (o) =>
      b.pipeline.run({ kind: 'tool', params: params as never }, { ...o, keep: (pages) => this.pages.put({ edge, caller: o.caller }, pages) }),
    );
    // A 2025 client validates structuredContent against the schema the 2025 codec listed (compat.ts).
    return edge.era === 'legacy' && route ? result.then((r) => legacyToolResult(r, route.tool.outputSchema)) : result;
  }

  /** mcpx__more: the next page of a result the output budget cut, for the session that got it. */
  private more(params: Record<string, unknown>, ctx: ServerContext, edge: UpstreamEdge): Record<string, unknown> {
    const { handle, page } = (params.arguments ?? {}) as { handle?: unknown; page?: unknown };
    if (typeof handle !== 'string' || typeof page !== 'number' || !Number.isInteger(page)) return toolError('mcpx__more needs "handle" and "page" as the cut result names them.');
    const held = this.pages.get({ edge, caller: callerOf(ctx) }, handle, page);
    if (!held) return toolError(`mcpx__more: no result with handle ${handle} is kept for this session (it may have been dropped to make room); call the tool again.`);
    if (held.text === undefined) return toolError(`mcpx__more: pages run from 2 to ${held.pages} (page 1 is the cut result itself), not ${page}.`);
    return { content: [{ type: 'text', text: held.text }, { type: 'text', text: pageNote(handle, page, held.pages) }] };
  }

  /** mcpx__find_tools: the best-matching child tools; for a client with search on they join its list (list_changed). */
  private async findTools(params: Record<string, unknown>, ctx: ServerContext, edge: UpstreamEdge): Promise<unknown> {
    const args = (params.arguments ?? {}) as { query?: unknown; limit?: unknown };
    if (typeof args.query !== 'string' || !args.query.trim()) return toolError('mcpx__find_tools needs "query": the task in plain words, e.g. "search Confluence pages".');
    const limit = typeof args.limit === 'number' && Number.isFinite(args.limit) ? Math.min(MAX_LIMIT, Math.max(1, Math.floor(args.limit))) : DEFAULT_LIMIT;
    const b = await this.backend;
    await b.settled(); // children with no stored catalog have listed: their tools can be found
    const found = this.search.find(b.hub.routing, args.query, limit, this.asker(edge, ctx.mcpReq.envelope as Record<string, unknown> | undefined));
    if (found.listChanged) {
      // A 2025 client hears it on this call's own stream, before the answer: over HTTP, a session that
      // opened no GET stream would hear nothing otherwise. A 2026 client hears it on its listen stream.
      const changed = { method: 'notifications/tools/list_changed' as const };
      if (edge.era === 'legacy') await ctx.mcpReq.notify(changed).catch(() => undefined);
      else edge.send(changed);
    }
    const tools = found.tools.map((d) => ({ name: d.name, description: d.route.tool.description ?? '', inputSchema: d.route.tool.inputSchema }));
    const out = { tools };
    return { content: [{ type: 'text', text: JSON.stringify(out) }], structuredContent: out };
  }

  /**
   * mcpx__call_tool: the named tool called exactly as a direct call of it would be (the same route:
   * refusals, the pipeline with its cache, breaker and audit, the call tracked on the client's edge),
   * so its result is the direct call's. An unknown name is a tool error naming the closest tools.
   */
  private async callThrough(params: Record<string, unknown>, ctx: ServerContext, edge: UpstreamEdge): Promise<unknown> {
    const args = (params.arguments ?? {}) as { name?: unknown; arguments?: unknown };
    const name = args.name;
    if (typeof name !== 'string' || !name) return toolError('mcpx__call_tool needs "name": a tool name as mcpx__find_tools returned it, and "arguments".');
    if (name === FIND_TOOLS.name || name === CALL_TOOL.name) return toolError(`call ${name} directly, not through mcpx__call_tool.`);
    const inner = args.arguments ?? {};
    if (typeof inner !== 'object' || Array.isArray(inner)) return toolError('mcpx__call_tool: "arguments" must be an object (the tool\'s arguments, following its inputSchema).');
    const b = await this.backend;
    const routing = b.hub.routing;
    const known = () => routing.toolRoutes.has(name) || routing.heldRoutes.has(name) || routing.own.some((t) => t.name === name);
    if (!known()) await b.settled();
    if (!known()) {
      const near = this.search.closest(routing, name);
      return toolError(`Unknown tool: ${name}.${near.length ? ` Closest: ${near.join(', ')}.` : ''} Use mcpx__find_tools to search by task.`);
    }
    return this.callTool({ ...params, name, arguments: inner }, ctx, edge);
  }

  private async read(params: Record<string, unknown>, ctx: ServerContext, edge: UpstreamEdge): Promise<unknown> {
    const b = await this.backend;
    if (params.uri === STATUS_URI) {
      return { contents: [{ uri: STATUS_URI, mimeType: 'application/json', text: JSON.stringify(b.status(viewerOf(ctx)), null, 2) }] };
    }
    return this.forward(ctx, edge, b.hub.resourceChild(String(params.uri)), (o) => b.pipeline.run({ kind: 'resource', params: params as never }, o));
  }

  private async complete(params: Record<string, unknown>, ctx: ServerContext, edge: UpstreamEdge): Promise<unknown> {
    const { hub, pipeline } = await this.backend;
    const ref = params.ref as { type: string; name?: string; uri?: string };
    let child: Child | undefined;
    let forwarded = params;
    if (ref?.type === 'ref/prompt') {
      const route = hub.routing.promptRoutes.get(String(ref.name));
      child = route?.child;
      if (route) forwarded = { ...params, ref: { ...ref, name: route.name } };
    } else {
      child = hub.routing.templateOwner(String(ref?.uri)) ?? hub.resourceChild(String(ref?.uri));
    }
    if (!child) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown ${ref?.type === 'ref/prompt' ? 'prompt' : 'resource'}: ${ref?.name ?? ref?.uri}`);
    if (!child.serverCapabilities?.completions) return { completion: { values: [], hasMore: false } };
    const target = child;
    return this.forward(ctx, edge, target, (o) => pipeline.run({ kind: 'forward', child: target, method: 'completion/complete', params: forwarded }, o));
  }

  /**
   * One forwarded request. 2025: progress and cancellation of the upstream request. 2026: the same,
   * per leg of a flight that may answer input_required while the child waits for the client. The
   * call is tracked on the client's edge: the child's requests find it, closing the session cancels it.
   */
  private forward(ctx: ServerContext, edge: UpstreamEdge, child: Child | undefined, run: (o: CallOptions) => Promise<unknown>): Promise<unknown> {
    // Who asks: the token's name over HTTP, the local user on stdio (the pipeline keys private entries by it).
    const caller = callerOf(ctx);
    // The route's own controller becomes the call's: one signal per call.
    const cancel = (ctx as RequestContext).abort ?? ctx.mcpReq.signal;
    if (edge.era === 'legacy') return edge.track(child?.name, cancel, (signal, asker) => withCall(ctx, (o) => run({ ...o, signal, caller, asker })), ctx.mcpReq.id);
    const tracked = ctx.mcpReq._meta?.progressToken !== undefined;
    return edge.leg(
      ctx,
      child?.name,
      (signal, progress, asker) => run({ signal, onprogress: tracked ? progress : undefined, caller, asker }),
      (flight) =>
        withCall(ctx, (o) => {
          const cancel = () => flight.abort.abort(o.signal.reason);
          o.signal.addEventListener('abort', cancel, { once: true });
          flight.progress = o.onprogress;
          return flight.next().finally(() => {
            flight.progress = undefined;
            o.signal.removeEventListener('abort', cancel);
          }) as Promise<Step>;
        }),
    );
  }

  /** (Un)subscribes the child that owns a URI: a 2025 client's request, or a 2026 client's listen filter. */
  private async subscribe(uri: string, method: 'resources/subscribe' | 'resources/unsubscribe', signal: AbortSignal, opts?: CallOptions): Promise<unknown> {
    const { hub, pipeline, settled } = await this.backend;
    // As for a read: a URI may belong to a child that has not listed yet.
    const child = hub.resourceChild(uri) ?? (await settled(), hub.resourceChild(uri));
    if (!child) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown resource: ${uri}`);
    if (!child.serverCapabilities?.resources?.subscribe) return {};
    return pipeline.run({ kind: 'forward', child, method, params: { uri } }, opts ?? { signal });
  }

  private sendLevel(child: Child): void {
    const level = this.sessions.logLevel();
    if (level && child.serverCapabilities?.logging && child.state.kind === 'ready') {
      child.request('logging/setLevel', { level }).catch(() => undefined);
    }
  }

  /** Child → upstream notifications (children added by a config reload too), to the clients (`Sessions`). */
  private wireNotifications({ hub }: Backend): void {
    hub.forEachChild((child) => {
      child.on('state', (s) => s.kind === 'ready' && this.sendLevel(child));
      child.on('notification', (n) => {
        if (n.method === 'notifications/message') {
          const logger = typeof n.params?.logger === 'string' ? `${child.name}/${n.params.logger}` : child.name;
          this.sessions.notify({ method: n.method, params: { ...n.params, logger } }, child.name);
        } else this.sessions.notify(n, child.name);
      });
    });
    // A 2026 client hears only through its listen streams (serveStdio and the HTTP bus drop what no stream asked for).
    hub.onListsChanged = (kinds: ListKind[]) => this.sessions.listsChanged(kinds);
  }
}

/** A Server whose transport's forwarded requests take the route (forward.ts) before the Server sees them. */
class RoutedServer extends Server {
  constructor(
    private readonly edge: UpstreamEdge,
    private readonly upstream: Upstream,
    ...args: ConstructorParameters<typeof Server>
  ) {
    super(...args);
  }

  override connect(transport: Transport): Promise<void> {
    return super.connect(forwarding(transport, this.edge, this.upstream));
  }
}

/** Who asks: the token's name over HTTP, the local user over stdio. */
function callerOf(ctx: ServerContext): string | undefined {
  return ctx.http ? ctx.http.authInfo?.clientId : localCaller();
}

/** Who reads the status over HTTP (the token's name); over stdio this host's user, who may see it all. */
function viewerOf(ctx: ServerContext): string | undefined {
  return ctx.http ? (ctx.http.authInfo?.clientId ?? '') : undefined;
}

/** A tool's failure as the model sees it: a result with isError and a sentence it can act on. */
function toolError(text: string): Record<string, unknown> {
  return { content: [{ type: 'text', text }], isError: true };
}

/**
 * Runs one request with the upstream's cancellation signal and progress token. Progress notifications
 * are sent in order and all before the answer: a progress that arrives after the result is dropped.
 */
async function withCall<T>(ctx: ServerContext, fn: (opts: CallOptions) => Promise<T>): Promise<T> {
  const { signal, notify } = ctx.mcpReq;
  const token = ctx.mcpReq._meta?.progressToken;
  let sent: Promise<unknown> | undefined;
  const onprogress =
    token === undefined
      ? undefined
      : (p: Progress) => {
          sent = (sent ?? Promise.resolve())
            .then(() => notify({ method: 'notifications/progress', params: { ...p, progressToken: token } }))
            .catch(() => undefined);
        };
  try {
    return await fn({ signal, onprogress });
  } finally {
    if (sent) {
      await sent;
      // SDK clients (Claude Code's among them, v1 and v2) drop a progress read in the same chunk as
      // its response: leave the client a moment to read the last progress on its own.
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
