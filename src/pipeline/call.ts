import { EventEmitter } from 'node:events';
import { BulkheadRejectedError } from 'cockatiel';
import { ErrorCode, McpError, type CallToolResult, type Progress, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { credentialHint, isAuthFailure, type Child } from '../children/child.js';
import type { ResultStore } from '../cache/store.js';
import { cacheKey } from '../cache/key.js';
import { SingleFlight } from '../cache/singleflight.js';
import { errorMessage, isMcpxError } from '../errors.js';
import { eitherSignal } from '../util/abort.js';
import { formatDuration } from '../util/duration.js';
import { markCached, staleToolResult, unavailableResult, type FailureReason } from './answers.js';
import { formatBackup, searchBackup } from './backup.js';
import { isTransportFailure, type ChildPolicies } from './policies.js';

/**
 * The call pipeline. Every tools/call goes through callTool(), top to bottom:
 *
 *   route → fresh cache → single flight → bulkhead → breaker → deadline → child call (retries)
 *         → classify → store in cache;   on failure: stale cache → local backup → clear error.
 *
 * resources/read takes the same path with a resource key; prompts and completions are forwarded.
 * The pipeline emits one `call` event per call; telemetry (stats, audit) listens.
 */
export interface Router {
  tool(name: string): { child: Child; name: string; tool: Tool } | undefined;
  prompt(name: string): { child: Child; name: string } | undefined;
  resource(uri: string): Child | undefined;
  /** Resolves when no child is still starting (a name may belong to a child not listed yet). */
  settled(): Promise<void>;
}

export interface PipelineDeps {
  router: Router;
  policies(child: Child): ChildPolicies;
  /** The result store, opened on first use; undefined when there is none. */
  store(): ResultStore | undefined;
  /** A call found its child down: the supervisor may try to start it again (never awaited). */
  childWanted(child: Child): void;
  /** The child refused its credentials: re-read them (.env, headersHelper) and reconnect. */
  reauthenticate(child: Child): Promise<void>;
}

export interface CallOptions {
  signal: AbortSignal;
  /** Set when the upstream request carried a progressToken. */
  onprogress?: (progress: Progress) => void;
}

export type Outcome = 'ok' | 'error' | 'hit' | 'stale' | 'fallback' | FailureReason;
export interface CallEvent {
  server: string;
  kind: 'tool' | 'resource' | 'prompt';
  name: string;
  args: unknown;
  outcome: Outcome;
  /** Why the child did not answer, when it did not (also for stale and fallback answers). */
  reason?: FailureReason;
  /** What went wrong, in words (no secrets: mcpx's own sentences and the child's error messages). */
  error?: string;
  cacheable: boolean;
  ms: number;
  /** The answer, by reference (never copied or measured here): the audit measures its size off the hot path. */
  result?: unknown;
  /** Size of the answer's JSON when known for free (a cache hit: the stored entry's size). */
  bytes?: number;
}

type Params = { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> } & Record<string, unknown>;
type Result = Record<string, unknown>;

const MAX_REAUTH = 2;

/** Why the child did not answer: carried from the attempt to the fallback. */
class CallFailed extends Error {
  constructor(readonly reason: FailureReason, message: string, readonly childError?: McpError) {
    super(message);
  }
}

export class Pipeline extends EventEmitter<{ call: [CallEvent]; quota: [{ server: string }] }> {
  private readonly inFlight = new SingleFlight<Result>();

  constructor(private readonly deps: PipelineDeps) {
    super();
  }

  async callTool(params: Params, opts: CallOptions): Promise<CallToolResult> {
    const t0 = performance.now();
    // 1. route: exposed name → child and the child's own name
    const route = this.deps.router.tool(params.name) ?? (await this.deps.router.settled(), this.deps.router.tool(params.name));
    if (!route) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${params.name}`);
    const { child, name, tool } = route;
    const args = params.arguments ?? {};
    const cache = cachePolicy(child, name, tool);
    const done = (outcome: Outcome, result: Result, failed?: CallFailed, bytes?: number) => {
      this.emit('call', { server: child.name, kind: 'tool', name, args, outcome, reason: failed?.reason, error: failed?.message, cacheable: !!cache, ms: performance.now() - t0, result, bytes });
      return result as CallToolResult;
    };

    // 2. fresh cache
    const store = cache ? this.deps.store() : undefined;
    const key = store ? cacheKey({ identity: child.config.identity, credentialFingerprint: child.fingerprint, kind: 'tool', name, args }) : '';
    const fresh = await store?.get(key);
    if (fresh) return done('hit', markCached(fresh.result, { status: 'hit', ageMs: Date.now() - fresh.storedAt, server: child.name }), undefined, fresh.bytes);

    // 3–7. the child, once for identical calls in flight (single flight shares one upstream call)
    const readOnly = tool.annotations?.readOnlyHint === true;
    // Over the quota, a call with a stale copy to fall back on does not wait for a slot.
    const canFallBack = async () => !!store && child.config.fallback.stale && !!(await store.getStale(key));
    const attempt = () => this.callChild(child, 'tools/call', { ...params, name, _meta: withoutProgressToken(params._meta) }, opts, readOnly, name, canFallBack);
    try {
      const result = store && !opts.onprogress ? await this.inFlight.run(key, attempt) : await attempt();
      if ((result as CallToolResult).isError) return done('error', result); // the tool's own answer
      if (store) store.put({ key, server: child.name, tool: name, result, ttlMs: cache!.ttl, staleTtlMs: cache!.staleTtl });
      if (!readOnly && !cache && child.config.cache.invalidateOnWrite) this.deps.store()?.invalidate({ server: child.name });
      return done('ok', result);
    } catch (e) {
      if (!(e instanceof CallFailed)) throw e; // cancelled upstream, or the child's answer about the request itself
      // 8. on failure: stale cache → local backup → clear error
      const stale = store && child.config.fallback.stale ? await store.getStale(key) : undefined;
      if (stale) {
        const mark = { status: 'stale' as const, ageMs: Date.now() - stale.storedAt, server: child.name, reason: e.reason };
        return done('stale', staleToolResult(stale.result, mark, e.message), e);
      }
      const dir = child.config.fallback.backupDir;
      const hits = dir ? await searchBackup(dir, args).catch(() => []) : [];
      if (hits.length) return done('fallback', { content: [{ type: 'text', text: formatBackup(child.name, dir!, hits) }], _meta: { 'mcpx/cache': { status: 'fallback', reason: e.reason, server: child.name, files: hits.map((h) => h.path) } } }, e);
      return done(e.reason, unavailableResult(child.name, e.message, child.config.fallback.message), e);
    }
  }

  async readResource(params: { uri: string } & Record<string, unknown>, opts: CallOptions): Promise<Result> {
    const t0 = performance.now();
    const child = this.deps.router.resource(params.uri) ?? (await this.deps.router.settled(), this.deps.router.resource(params.uri));
    if (!child) throw new McpError(ErrorCode.InvalidParams, `Unknown resource: ${params.uri}`);
    const store = child.config.cache.enabled ? this.deps.store() : undefined;
    const done = (outcome: Outcome, result: Result | undefined, failed?: CallFailed, bytes?: number) => {
      this.emit('call', { server: child.name, kind: 'resource', name: params.uri, args: {}, outcome, reason: failed?.reason, error: failed?.message, cacheable: !!store, ms: performance.now() - t0, result, bytes });
      return result!;
    };
    const key = store ? cacheKey({ identity: child.config.identity, credentialFingerprint: child.fingerprint, kind: 'resource', name: params.uri, args: {} }) : '';
    const fresh = await store?.get(key);
    if (fresh) return done('hit', markCached(fresh.result, { status: 'hit', ageMs: Date.now() - fresh.storedAt, server: child.name }), undefined, fresh.bytes);
    try {
      const result = await this.callChild(child, 'resources/read', params, opts, true, params.uri);
      store?.put({ key, server: child.name, tool: params.uri, result, ttlMs: child.config.cache.ttl, staleTtlMs: child.config.cache.staleTtl });
      return done('ok', result);
    } catch (e) {
      if (!(e instanceof CallFailed)) throw e;
      const stale = store && child.config.fallback.stale ? await store.getStale(key) : undefined;
      if (stale) return done('stale', markCached(stale.result, { status: 'stale', ageMs: Date.now() - stale.storedAt, server: child.name, reason: e.reason }), e);
      done(e.reason, undefined, e);
      if (e.childError) throw e.childError;
      throw new McpError(ErrorCode.InternalError, `${child.name} is unavailable: ${e.message}`);
    }
  }

  /** The cache key of a resource, to drop it when the child says it was updated. */
  resourceUpdated(child: Child, uri: string): void {
    const key = cacheKey({ identity: child.config.identity, credentialFingerprint: child.fingerprint, kind: 'resource', name: uri, args: {} });
    this.deps.store()?.invalidate({ key });
  }

  async getPrompt(params: { name: string } & Record<string, unknown>, opts: CallOptions): Promise<Result> {
    const t0 = performance.now();
    const route = this.deps.router.prompt(params.name) ?? (await this.deps.router.settled(), this.deps.router.prompt(params.name));
    if (!route) throw new McpError(ErrorCode.InvalidParams, `Unknown prompt: ${params.name}`);
    const { child, name } = route;
    const done = (outcome: Outcome, result?: Result, failed?: CallFailed) =>
      this.emit('call', { server: child.name, kind: 'prompt', name, args: params.arguments ?? {}, outcome, reason: failed?.reason, error: failed?.message, cacheable: false, ms: performance.now() - t0, result });
    try {
      const result = await this.callChild(child, 'prompts/get', { ...params, name }, opts, false, 'prompts/get');
      done('ok', result);
      return result;
    } catch (e) {
      if (!(e instanceof CallFailed)) throw e;
      done(e.reason, undefined, e);
      if (e.childError) throw e.childError;
      throw new McpError(ErrorCode.InternalError, `${child.name} is unavailable: ${e.message}`);
    }
  }

  /** A request passed through the bulkhead, breaker and deadline, whose failure is a JSON-RPC error upstream. */
  async forward(child: Child, method: string, params: Record<string, unknown>, opts: CallOptions): Promise<Result> {
    try {
      return await this.callChild(child, method, params, opts, false, method);
    } catch (e) {
      if (!(e instanceof CallFailed)) throw e;
      if (e.childError) throw e.childError;
      throw new McpError(ErrorCode.InternalError, `${child.name} is unavailable: ${e.message}`);
    }
  }

  /**
   * bulkhead → breaker → deadline → child call (retries for read-only calls on transport failures).
   * Throws CallFailed when the child did not answer usefully; other errors (cancellation, the child's
   * answer about the request itself) pass through.
   */
  private async callChild(
    child: Child, method: string, params: Result, opts: CallOptions, readOnly: boolean, name: string, canFallBack: () => boolean | Promise<boolean> = () => false,
  ): Promise<Result> {
    const { bulkhead, breaker, retry, quota } = this.deps.policies(child);
    const timeoutMs = child.config.tools.settings[name]?.timeoutMs ?? child.config.timeoutMs;
    // A lazy child starts on its first call; a child starting right now (mcpx just started and listed
    // it from the stored catalog) is waited for, within the call's deadline. A child that is down
    // (waiting for its restart) is not: the call takes the fallback path at once.
    const t0 = performance.now();
    if (child.state.kind === 'idle' || child.state.kind === 'starting') {
      await Promise.race([child.start(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    }
    const deadlineMs = Math.max(1, timeoutMs - (performance.now() - t0)); // the wait counts against it
    // A remote child that refused the credentials: re-read them and reconnect, at most twice a call.
    let reauths = 0;
    while (child.state.kind === 'down' && child.authRejected && reauths < MAX_REAUTH) {
      reauths++;
      await this.deps.reauthenticate(child);
    }
    if (child.state.kind !== 'ready') {
      this.deps.childWanted(child);
      throw new CallFailed('child-down', downReason(child));
    }
    if (quota && !quota.take()) {
      quota.heldBack++;
      this.emit('quota', { server: child.name }); // held back: answered from the cache, made to wait, or refused
      const used = `quota of ${quota.limit.calls} calls per ${formatDuration(quota.limit.perMs)} used up`;
      if ((await canFallBack()) || !(await quota.wait(deadlineMs, opts.signal))) throw new CallFailed('quota', `${used}, next slot in ${formatDuration(quota.nextSlotInMs())}`);
    }
    if (!breaker.tryAcquire()) {
      const s = breaker.state;
      const failures = s.kind === 'open' ? s.failures : child.config.breaker.failureThreshold;
      throw new CallFailed('breaker-open', `circuit open after ${failures} failures, next try in ${formatDuration(breaker.retryInMs())}`);
    }
    // One deadline for all attempts: a retry gets what is left of it, never a fresh one.
    const end = performance.now() + deadlineMs;
    const once = (signal: AbortSignal) =>
      child.request(method, params, {
        signal,
        timeout: Math.max(1, end - performance.now()), // the deadline: the SDK cancels the child's request when it passes
        resetTimeoutOnProgress: true,
        maxTotalTimeout: child.config.maxTotalTimeoutMs,
        onprogress: opts.onprogress,
      });
    let result: Result;
    try {
      for (;;) {
        try {
          result = await bulkhead.execute(
            () => (readOnly ? retry.execute(({ signal }) => once(eitherSignal(opts.signal, signal)), opts.signal) : once(opts.signal)),
            opts.signal,
          );
          break;
        } catch (e) {
          if (!isAuthFailure(e) || reauths >= MAX_REAUTH || opts.signal.aborted) throw e;
          reauths++;
          await this.deps.reauthenticate(child); // token rotated in .env: no restart of mcpx needed
          if (child.state.kind !== 'ready') throw e;
        }
      }
    } catch (e) {
      if (opts.signal.aborted) {
        breaker.release(); // cancelled upstream: says nothing about the child
        throw e;
      }
      const failure = classifyError(e, child, timeoutMs);
      if (failure === undefined) {
        breaker.success(); // the child answered (about the request itself): it is healthy
        throw e;
      }
      breaker.failure();
      throw failure;
    }
    // A result whose text matches errorPatterns is a failed upstream fetch reported as text (Context7).
    const pattern = matchErrorPattern(child, result);
    if (pattern) {
      breaker.failure();
      throw new CallFailed('error', `it reported an error: ${pattern}`);
    }
    breaker.success();
    return result;
  }
}

/** How long and whether a tool is cached: readOnlyHint or listed in cache.tools; never when turned off. */
function cachePolicy(child: Child, name: string, tool: Tool): { ttl: number; staleTtl: number } | undefined {
  const c = child.config.cache;
  const listed = c.tools[name];
  if (!c.enabled || listed === false) return undefined;
  if (listed === undefined && tool.annotations?.readOnlyHint !== true) return undefined;
  return { ttl: listed?.ttl ?? c.ttl, staleTtl: listed?.staleTtl ?? c.staleTtl };
}

/** undefined: not a failure of the child (its answer about the request itself). */
function classifyError(e: unknown, child: Child, timeoutMs: number): CallFailed | undefined {
  if (e instanceof BulkheadRejectedError) {
    return new CallFailed('queue-full', `too many calls in flight (${child.config.maxConcurrent} running, ${child.config.maxQueue} waiting)`);
  }
  if (isAuthFailure(e)) return new CallFailed('error', `${child.name} rejected the credentials: ${credentialHint(child.config)}`);
  if (e instanceof McpError && e.code === ErrorCode.RequestTimeout) return new CallFailed('timeout', `no answer within ${formatDuration(timeoutMs)}`);
  if (isTransportFailure(e)) return new CallFailed('child-down', isMcpxError(e) ? e.message.replace(`${child.name} `, '') : 'the server exited during the call');
  if (e instanceof McpError) {
    // Invalid params / unknown method are answers about the request, not signs of a broken child.
    if (e.code === ErrorCode.InvalidParams || e.code === ErrorCode.MethodNotFound) return undefined;
    return new CallFailed('error', `it answered with an error: ${e.message}`, e);
  }
  return new CallFailed('error', errorMessage(e));
}

function matchErrorPattern(child: Child, result: Result): string | undefined {
  const patterns = child.config.errorPatterns;
  if (!patterns.length) return undefined;
  const content = (result.content as { type: string; text?: string }[] | undefined) ?? [];
  for (const c of content) {
    if (c.type !== 'text' || !c.text) continue;
    for (const p of patterns) {
      const m = p.exec(c.text);
      if (m) return c.text.slice(Math.max(0, m.index - 20), m.index + 100).trim();
    }
  }
  return undefined;
}

function downReason(child: Child): string {
  const s = child.state;
  if (s.kind === 'down') return s.reason;
  if (s.kind === 'disabled') return 'disabled in the config';
  if (s.kind === 'misconfigured') return s.reason;
  return `it is ${s.kind}`;
}

function withoutProgressToken(meta: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (!meta || !('progressToken' in meta)) return meta;
  const { progressToken: _drop, ...rest } = meta;
  return Object.keys(rest).length ? rest : undefined;
}
