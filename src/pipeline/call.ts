import { ErrorCode, McpError, type CallToolResult, type Progress, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { Child } from '../children/child.js';
import { errorMessage, isMcpxError } from '../errors.js';

/**
 * The call pipeline: every tools/call (and resources/read, prompts/get) goes through here, top to
 * bottom. Today: route → start the child if needed → call it with its deadline, forwarding progress
 * and cancellation → its result as it is, or a clear error the model can read.
 */
export interface Router {
  tool(name: string): { child: Child; name: string; tool: Tool } | undefined;
  prompt(name: string): { child: Child; name: string } | undefined;
  resource(uri: string): Child | undefined;
  /** Resolves when no child is still starting (a name may belong to a child not listed yet). */
  settled(): Promise<void>;
}

export interface CallOptions {
  signal: AbortSignal;
  /** Set when the upstream request carried a progressToken. */
  onprogress?: (progress: Progress) => void;
}

type Params = { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> } & Record<string, unknown>;

export class Pipeline {
  constructor(private readonly router: Router) {}

  async callTool(params: Params, opts: CallOptions): Promise<CallToolResult> {
    // 1. route: exposed name → child and the child's own name
    const route = this.router.tool(params.name) ?? (await this.router.settled(), this.router.tool(params.name));
    if (!route) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${params.name}`);
    const { child, name } = route;

    // 2. the child: started on first use when lazy; a child that is down answers with a clear error
    await startIfNeeded(child);
    if (child.state.kind !== 'ready') return unavailable(child, stateReason(child));

    // 3. the call, with the child's deadline; progress resets it, maxTotalTimeoutMs caps it
    const { timeoutMs } = { timeoutMs: child.config.tools.settings[name]?.timeoutMs ?? child.config.timeoutMs };
    try {
      const result = await child.request('tools/call', { ...params, name, _meta: withoutProgressToken(params._meta) }, {
        signal: opts.signal,
        timeout: timeoutMs,
        resetTimeoutOnProgress: true,
        maxTotalTimeout: child.config.maxTotalTimeoutMs,
        onprogress: opts.onprogress,
      });
      return result as CallToolResult;
    } catch (e) {
      if (opts.signal.aborted) throw e; // cancelled upstream: nobody reads the answer
      if (isChildJsonRpcError(e)) throw e; // the child's own protocol answer, passed through as it is
      return unavailable(child, describeFailure(e, timeoutMs));
    }
  }

  async readResource(params: { uri: string } & Record<string, unknown>, opts: CallOptions): Promise<Record<string, unknown>> {
    const child = this.router.resource(params.uri) ?? (await this.router.settled(), this.router.resource(params.uri));
    if (!child) throw new McpError(ErrorCode.InvalidParams, `Unknown resource: ${params.uri}`);
    await startIfNeeded(child);
    if (child.state.kind !== 'ready') throw new McpError(ErrorCode.InternalError, `${child.name} is unavailable: ${stateReason(child)}`);
    return this.forward(child, 'resources/read', params, opts);
  }

  async getPrompt(params: { name: string } & Record<string, unknown>, opts: CallOptions): Promise<Record<string, unknown>> {
    const route = this.router.prompt(params.name) ?? (await this.router.settled(), this.router.prompt(params.name));
    if (!route) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${params.name}`);
    await startIfNeeded(route.child);
    return this.forward(route.child, 'prompts/get', { ...params, name: route.name }, opts);
  }

  /** A request whose failure is a JSON-RPC error upstream (reads, prompts, completions). */
  async forward(child: Child, method: string, params: Record<string, unknown>, opts: CallOptions): Promise<Record<string, unknown>> {
    try {
      return await child.request(method, params, {
        signal: opts.signal,
        timeout: child.config.timeoutMs,
        resetTimeoutOnProgress: true,
        maxTotalTimeout: child.config.maxTotalTimeoutMs,
        onprogress: opts.onprogress,
      });
    } catch (e) {
      if (isChildJsonRpcError(e) || opts.signal.aborted) throw e;
      throw new McpError(ErrorCode.InternalError, `${child.name} is unavailable: ${describeFailure(e, child.config.timeoutMs)}`);
    }
  }
}

async function startIfNeeded(child: Child): Promise<void> {
  if (child.state.kind === 'idle' || child.state.kind === 'starting') await child.start();
}

function stateReason(child: Child): string {
  const s = child.state;
  if (s.kind === 'down') return s.reason;
  if (s.kind === 'disabled') return 'disabled in the config';
  if (s.kind === 'misconfigured') return s.reason;
  return s.kind;
}

/** A tool result the model can read and act on. */
export function unavailable(child: Child, why: string): CallToolResult {
  const text = child.config.fallback.message ?? `${child.name} is unavailable: ${why}; no cached answer for this call.`;
  return { content: [{ type: 'text', text }], isError: true };
}

/** SDK-side failures (timeout, connection closed) are ours to explain; anything else came from the child. */
function isChildJsonRpcError(e: unknown): e is McpError {
  return e instanceof McpError && e.code !== ErrorCode.RequestTimeout && e.code !== ErrorCode.ConnectionClosed;
}

function describeFailure(e: unknown, timeoutMs: number): string {
  if (e instanceof McpError && e.code === ErrorCode.RequestTimeout) return `no answer within ${timeoutMs} ms`;
  if (e instanceof McpError && e.code === ErrorCode.ConnectionClosed) return 'the server exited during the call';
  if (isMcpxError(e)) return e.message;
  return errorMessage(e);
}

function withoutProgressToken(meta: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!meta || !('progressToken' in meta)) return meta;
  const { progressToken: _drop, ...rest } = meta;
  return Object.keys(rest).length ? rest : undefined;
}
