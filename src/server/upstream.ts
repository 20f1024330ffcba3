import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { Protocol } from '@modelcontextprotocol/sdk/shared/protocol.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  ResultSchema,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type LoggingLevel,
  type Progress,
  type ServerNotification,
} from '@modelcontextprotocol/sdk/types.js';
import type { UpstreamBridge } from '../children/child.js';
import type { Child } from '../children/child.js';
import type { CallOptions, Pipeline } from '../pipeline/call.js';
import type { Hub, ListKind } from '../runtime/hub.js';

/**
 * The upstream SDK Server that Claude Code talks to: list, call, read, prompt, completion and
 * subscription handlers, and the notifications forwarded both ways. Routing and calls are the
 * pipeline's; this file only translates between the protocol and it.
 */
export const SERVER_INFO = { name: 'mcpx', version: '0.1.0' };

type Extra = {
  signal: AbortSignal;
  _meta?: { progressToken?: string | number };
  sendNotification: (n: ServerNotification) => Promise<void>;
};

/** `instructions`: what each child is for (see instructions.ts), answered with initialize. */
export function createUpstreamServer(instructions?: string): Server {
  return new Server(SERVER_INFO, {
    instructions,
    capabilities: {
      tools: { listChanged: true },
      prompts: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      logging: {},
      completions: {},
    },
    // Several children starting at once must not become a storm of list_changed upstream.
    debouncedNotificationMethods: ['notifications/tools/list_changed', 'notifications/prompts/list_changed', 'notifications/resources/list_changed'],
  });
}

/** How children reach the upstream client: only what it declared (else the child gets an error). */
export function bridgeTo(server: Server): UpstreamBridge {
  return {
    capabilities: () => server.getClientCapabilities() ?? {},
    request: (method, params, signal) =>
      server.request({ method, params } as never, ResultSchema, { signal, timeout: 600_000 }) as Promise<Record<string, unknown>>,
  };
}

/** mcpx's own tool and resource: the status snapshot as JSON. */
export const STATUS_TOOL = {
  name: 'mcpx__status',
  title: 'mcpx status',
  description: 'Health of the MCP servers behind mcpx: state, circuit breaker, restarts, last error, latency and cache counts per server.',
  inputSchema: { type: 'object' as const, properties: {} },
  annotations: { readOnlyHint: true, openWorldHint: false },
};
export const STATUS_URI = 'mcpx://status';

/** What the handlers serve from: built after the transport is connected, off the initialize path. */
export interface Backend {
  hub: Hub;
  pipeline: Pipeline;
  /** Resolves when the lists are worth answering (children with no stored catalog have had their chance). */
  settled(): Promise<void>;
  status(): Record<string, unknown>;
}

/**
 * Registers every handler at once (a request never finds a method missing), each waiting for the
 * backend, which is still loading only during the first milliseconds after initialize.
 */
export function installHandlers(server: Server, backend: Promise<Backend>): void {
  const lists = async () => {
    const b = await backend;
    await b.settled();
    return b.hub.routing;
  };
  server.setRequestHandler(ListToolsRequestSchema, async () => {
    const routing = await lists();
    (await backend).hub.recheckPins(); // an approval made by `mcpx approve` since the last look
    return { tools: routing.tools };
  });
  server.setRequestHandler(ListPromptsRequestSchema, async () => ({ prompts: (await lists()).prompts }));
  server.setRequestHandler(ListResourcesRequestSchema, async () => ({
    resources: [...(await lists()).resources, { uri: STATUS_URI, name: 'mcpx status', mimeType: 'application/json' }],
  }));
  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({ resourceTemplates: (await lists()).resourceTemplates }));

  // tools/call is registered on the Protocol itself: the SDK Server's own tools/call wrapper parses
  // and rebuilds every result (dropping fields it does not know, and costing time on the hot path);
  // mcpx forwards the child's result as the child sent it.
  Protocol.prototype.setRequestHandler.call(server, CallToolRequestSchema, async (req, extra) => {
    const b = await backend;
    if (req.params.name === STATUS_TOOL.name) {
      const status = b.status();
      return { content: [{ type: 'text', text: JSON.stringify(status, null, 2) }], structuredContent: status };
    }
    const refused = await b.hub.refusalAfterSettling(req.params.name, b.settled);
    if (refused) return refused;
    return withCall(extra, (opts) => b.pipeline.run({ kind: 'tool', params: req.params }, opts));
  });
  server.setRequestHandler(ReadResourceRequestSchema, async (req, extra) => {
    const b = await backend;
    if (req.params.uri === STATUS_URI) {
      return { contents: [{ uri: STATUS_URI, mimeType: 'application/json', text: JSON.stringify(b.status(), null, 2) }] };
    }
    return withCall(extra, (opts) => b.pipeline.run({ kind: 'resource', params: req.params }, opts)) as never;
  });
  server.setRequestHandler(GetPromptRequestSchema, async (req, extra) => {
    const b = await backend;
    return withCall(extra, (opts) => b.pipeline.run({ kind: 'prompt', params: req.params }, opts)) as never;
  });

  server.setRequestHandler(CompleteRequestSchema, async (req, extra) => {
    const { hub, pipeline } = await backend;
    const ref = req.params.ref;
    let child: Child | undefined;
    let params: Record<string, unknown> = req.params;
    if (ref.type === 'ref/prompt') {
      const route = hub.routing.promptRoutes.get(ref.name);
      child = route?.child;
      if (route) params = { ...req.params, ref: { ...ref, name: route.name } };
    } else {
      child = hub.routing.templateOwner(ref.uri) ?? hub.resourceChild(ref.uri);
    }
    if (!child) throw new McpError(ErrorCode.InvalidParams, `Unknown ${ref.type === 'ref/prompt' ? 'prompt' : 'resource'}: ${'name' in ref ? ref.name : ref.uri}`);
    if (!child.serverCapabilities?.completions) return { completion: { values: [], hasMore: false } };
    return withCall(extra, (opts) => pipeline.run({ kind: 'forward', child, method: 'completion/complete', params }, opts)) as never;
  });

  const subscription = (method: 'resources/subscribe' | 'resources/unsubscribe') => async (req: { params: { uri: string } }, extra: unknown) => {
    const { hub, pipeline, settled } = await backend;
    // As for a read: a URI may belong to a child that has not listed yet.
    const child = hub.resourceChild(req.params.uri) ?? (await settled(), hub.resourceChild(req.params.uri));
    if (!child) throw new McpError(ErrorCode.InvalidParams, `Unknown resource: ${req.params.uri}`);
    if (!child.serverCapabilities?.resources?.subscribe) return {};
    return withCall(extra, (opts) => pipeline.run({ kind: 'forward', child, method, params: req.params }, opts)) as never;
  };
  server.setRequestHandler(SubscribeRequestSchema, subscription('resources/subscribe'));
  server.setRequestHandler(UnsubscribeRequestSchema, subscription('resources/unsubscribe'));

  // logging/setLevel: remembered, and passed to every child that supports logging (now and when it starts).
  let level: LoggingLevel | undefined;
  const sendLevel = (child: Child) => {
    if (level && child.serverCapabilities?.logging && child.state.kind === 'ready') {
      child.request('logging/setLevel', { level }).catch(() => undefined);
    }
  };
  server.setRequestHandler(SetLevelRequestSchema, async (req) => {
    level = req.params.level;
    (await backend).hub.children.forEach(sendLevel);
    return {};
  });

  server.setNotificationHandler(RootsListChangedNotificationSchema, async () => {
    await Promise.all((await backend).hub.children.map((c) => c.notify('notifications/roots/list_changed')));
  });

  // Child → upstream notifications (children added by a config reload too).
  void backend.then(({ hub }) => {
    hub.forEachChild((child) => {
      child.on('state', (s) => s.kind === 'ready' && sendLevel(child));
      child.on('notification', (n) => {
        if (n.method === 'notifications/message') {
          const logger = typeof n.params?.logger === 'string' ? `${child.name}/${n.params.logger}` : child.name;
          void server.notification({ method: n.method, params: { ...n.params, logger } } as ServerNotification).catch(() => undefined);
        } else {
          void server.notification(n as ServerNotification).catch(() => undefined);
        }
      });
    });
    hub.onListsChanged = (kinds: ListKind[]) => {
      if (!server.getClientCapabilities()) return; // not initialized yet: the first list will be current
      for (const k of kinds) void server.notification({ method: `notifications/${k}/list_changed` } as ServerNotification).catch(() => undefined);
    };
  });
}

/**
 * Runs one request with the upstream's cancellation signal and progress token. Progress notifications
 * are sent in order and all before the answer: a progress that arrives after the result is dropped.
 */
async function withCall<T>(extra: unknown, fn: (opts: CallOptions) => Promise<T>): Promise<T> {
  const { signal, _meta, sendNotification } = extra as Extra;
  const token = _meta?.progressToken;
  let sent: Promise<unknown> | undefined;
  const onprogress =
    token === undefined
      ? undefined
      : (p: Progress) => {
          sent = (sent ?? Promise.resolve())
            .then(() => sendNotification({ method: 'notifications/progress', params: { ...p, progressToken: token } }))
            .catch(() => undefined);
        };
  try {
    return await fn({ signal, onprogress });
  } finally {
    if (sent) {
      await sent;
      // SDK clients (Claude Code's among them) drop a progress read in the same chunk as its response:
      // leave the client a moment to read the last progress on its own.
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
