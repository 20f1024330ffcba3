import { EventEmitter } from 'node:events';
import { ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode, type Progress, type Tool } from '@modelcontextprotocol/client';
import { cacheAdvice } from '../children/advice.js';
import { credentialHint, isAuthFailure, type Child } from '../children/child.js';
import { loginNeededIn } from '../children/oauth/needed.js';
import { isQuestionRefused } from '../children/asking.js';
import type { CachedEntry, Mark, MaybePromise, ResultStore } from '../cache/store.js';
import { SingleFlight } from '../cache/singleflight.js';
import { errorMessage, isMcpxError } from '../errors.js';
import { formatDuration } from '../util/duration.js';
import { AdmissionRefused } from './admission.js';
import { CHARS_PER_TOKEN, cutNote, cutResult } from './budget.js';
import { CallKeys } from './cache-keys.js';
import { cachedToolResult, failureText, markCached, staleToolResult, unavailableResult, type FailureReason } from './answers.js';
import { cachePlan, isTransportFailure, type CachePlan, type ChildPolicies } from './policies.js';

/**
 * The call pipeline. Every tools/call, resources/read, prompts/get and forwarded request (completion,
 * subscribe) enters through run(), and reads top to bottom:
 *
 *   1 route → 2 fresh cache → 3 single flight → 4 quota → 5 bulkhead → 6 breaker → 7 deadline
 *   → 8 child.call (retries) → 9 classify → 10 cache.put;   on failure: stale copy → local backup → clear error;
 *   11 output budget (a client's tool answer, whatever its source: cut to the budget, the rest kept as pages).
 *
 * What differs between the kinds is data, set once by route(): cacheable or not, retried or not, and
 * how a failure is answered (an isError tool result, or a JSON-RPC error). Only the child's own failures
 * (step 9) feed the breaker: a refusal by the quota or the bulkhead, an upstream cancel and time spent
 * waiting inside mcpx are mcpx's decisions. The pipeline emits one `call` event per call; telemetry listens.
 */

/** What the pipeline uses of a child (a unit test hands it a fake). */
export type PipelineChild = Pick<Child, 'name' | 'config' | 'knownEra' | 'credentialFingerprint' | 'state' | 'authRejected' | 'connection' | 'start' | 'request'>;

export interface Router<C extends PipelineChild = Child> {
  tool(name: string): { child: C; name: string; tool: Tool } | undefined;
  prompt(name: string): { child: C; name: string } | undefined;
  resource(uri: string): C | undefined;
  /** Resolves when no child is still starting (a name may belong to a child not listed yet). */
  settled(): Promise<void>;
}

export interface PipelineDeps<C extends PipelineChild = Child> {
  router: Router<C>;
  policies(child: C): ChildPolicies;
  /** The result store, opened on first use; undefined when there is none. */
  store(): ResultStore | undefined;
  /**
   * The store's secret salt for credential fingerprints (cache/salt.ts): at once, or once Redis gave it
   * (a lookup waits as long as for an entry); undefined when there is none: only public entries then.
   */
  keySalt(): MaybePromise<Buffer | undefined>;
  /** A call found its child down: the supervisor may try to start it again (never awaited). */
  childWanted(child: C): void;
  /** The child refused its credentials: re-read them (.env, headersHelper) and reconnect. */
  reauthenticate(child: C): Promise<void>;
}

export interface CallOptions {
  signal: AbortSignal;
  /** Set when the upstream request carried a progressToken. */
  onprogress?: (progress: Progress) => void;
  /**
   * Who asks: the token's name over HTTP, the local user (localCaller) on stdio and in the CLI. The audit
   * trail records it, and a private cache entry belongs to it; unknown (undefined), nothing private is
   * stored or shared.
   */
  caller?: string;
  /**
   * Set for a client's tool call: the output budget applies. Keeps the pages of text cut off for the
   * client's session and returns their handle (what `mcpx__more` takes).
   */
  keep?: (pages: string[]) => string;
  /** The upstream request this call serves (server/'s object): a question the child asks during it goes to its client. */
  asker?: object;
}

type Params = { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> } & Record<string, unknown>;
type Result = Record<string, unknown>;

/** What comes in: a tool, resource or prompt by its upstream name, or a request for a child already chosen. */
export type Request<C extends PipelineChild = Child> =
  | { kind: 'tool'; params: Params }
  | { kind: 'resource'; params: { uri: string } & Record<string, unknown> }
  | { kind: 'prompt'; params: Params }
  | { kind: 'forward'; child: C; method: string; params: Record<string, unknown> };

export type Outcome = 'ok' | 'error' | 'hit' | 'stale' | 'fallback' | 'cancelled' | FailureReason;
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
  /** Who asked (CallOptions.caller). */
  caller?: string;
  /** The answer's text was cut to the output budget: its size and what the client got first, in tokens. */
  cut?: { tokens: number; keptTokens: number };
}

/** One routed call: what differs between the kinds of request, as data. */
interface Call<C> {
  child: C;
  /** How it is recorded; forwarded requests are not. */
  kind?: CallEvent['kind'];
  method: string;
  /** The child's own name for what is called: tool or prompt name, resource URI, or method. */
  name: string;
  /** As the child gets them. */
  params: Result;
  /** For the cache key, the call event and the backup search. */
  args: unknown;
  /** Set when the answer may be cached: for how long (policies.ts, cachePlan). */
  cache?: CachePlan;
  /** Retried on a fast transport failure. */
  readOnly: boolean;
  /** A successful call drops the server's cached entries (`cache.invalidateOnWrite`). */
  writes: boolean;
  /** How a failure is answered: an isError tool result (after the backup search), or a JSON-RPC error. */
  answer: 'tool-result' | 'json-rpc-error';
}

const MAX_REAUTH = 2;

/** The fallback's search of backup files (and SQLite for its index): loaded on the first failure that needs it. */
const loadBackup = () => import('./backup.js');

/** Why the child did not answer, or why mcpx did not send the call: carried to the fallback. */
class CallFailed extends Error {
  constructor(readonly reason: FailureReason, message: string, readonly childError?: ProtocolError) {
    super(message);
  }
}

export class Pipeline<C extends PipelineChild = Child> extends EventEmitter<{ call: [CallEvent]; quota: [{ server: string }] }> {
  private readonly inFlight = new SingleFlight<Result>();
  /**
   * The upstream requests each shared call in flight serves, by key: a caller joining it is one more
   * (a question the child asks then has several possible owners, and is refused unless they are one client).
   */
  private readonly askersOf = new Map<string, Set<object>>();
  /** One credential refresh and reconnect at a time per child, shared by the calls it refused. */
  private readonly reauths = new Map<C, Promise<void>>();

  constructor(private readonly deps: PipelineDeps<C>) {
    super();
  }

  /** The one entry: a tool call, resource read, prompt or forwarded request, answered or failed over. */
  async run(request: Request<C>, opts: CallOptions): Promise<Result> {
    const t0 = performance.now();
    // 1. route: upstream name → child and the child's own name (unknown → -32602). Known names route
    // at once; only a name not listed yet waits for the lists (one await fewer per call).
    const call = this.route(request) ?? (await this.routeSettled(request));
    const { child } = call;
    const done = (outcome: Outcome, result?: Result, failed?: CallFailed, bytes?: number) => {
      // 11. output budget: a tool answer longer than it reaches the client cut, the rest kept as pages.
      const cut = result && call.kind === 'tool' && opts.keep ? cutResult(result, child.config.maxOutputTokens) : undefined;
      if (call.kind) {
        this.emit('call', {
          server: child.name, kind: call.kind, name: call.name, args: call.args, outcome, reason: failed?.reason, error: failed?.message,
          cacheable: !!plan, ms: performance.now() - t0, result, bytes, caller: opts.caller,
          ...(cut && { cut: { tokens: Math.ceil(cut.totalChars / CHARS_PER_TOKEN), keptTokens: Math.ceil(cut.keptChars / CHARS_PER_TOKEN) } }),
        });
      }
      return cut ? cut.withNote(cutNote(child.name, child.config.maxOutputTokens, cut, opts.keep!(cut.pages))) : result!;
    };

    // 2. fresh cache: keyed by whose answer it is (cache-keys.ts: the credentials, or no one, or the caller).
    // A 2025-era child gives no ttlMs advice: where only advice could cache, nothing is looked up (also for a
    // call that arrives while the child is still starting, by its setting or the verdict stored with its catalog).
    const plan = call.cache && !(call.cache.byAdvice && child.knownEra === 'legacy') ? call.cache : undefined;
    const store = plan ? this.deps.store() : undefined;
    const keys = store ? new CallKeys(child, { kind: call.kind === 'resource' ? 'resource' : 'tool', name: call.name, args: call.args }, opts.caller) : undefined;
    const salt = keys && this.deps.keySalt(); // a value (SQLite, Redis once known) or a bounded wait (Redis starting)
    const lookup = keys?.lookup(salt instanceof Promise ? await salt : salt);
    const found = lookup && firstOf(lookup, (k) => store!.get(k)); // a value (SQLite, Redis's L1) or a promise (Redis, bounded)
    const fresh = found instanceof Promise ? await found : found; // awaited only when it is one: an uncached call never waits
    if (fresh) {
      const mark = { status: 'hit' as const, ageMs: Date.now() - fresh.storedAt, server: child.name };
      const answer = call.answer === 'tool-result' ? cachedToolResult(fresh.result, mark, child.config.cache.noteAfter) : markCached(fresh.result, mark);
      return done('hit', answer, undefined, fresh.bytes);
    }

    // 3. single flight: identical calls in flight share one child call, each caller keeping its own
    // cancellation (not with a progress token: progress goes to one caller). Steps 4–10 are sendAndKeep().
    const staleCopy = () => (store && lookup && child.config.fallback.stale ? firstOf(lookup, (k) => store.getStale(k)) : undefined);
    const askers = new Set<object>();
    if (opts.asker) askers.add(opts.asker);
    const sendAndKeep = async (signal: AbortSignal) => {
      // Taken before the call goes out: a write to this server landing while it runs makes its answer unkeepable.
      const since = store?.mark();
      const result = await this.send(call, { signal, onprogress: opts.onprogress }, async () => !!(await staleCopy()), askers);
      if (result.isError === true) return result; // the tool's own answer: passed on, never cached
      // 10. cache.put: what the config (or the child's ttlMs) asks for, once per shared call, under the credentials the answer came with
      if (store) this.put(store, keys!, plan!, call, result, since);
      else if (call.writes && child.config.cache.invalidateOnWrite) this.deps.store()?.invalidate({ server: child.name });
      return result;
    };
    const flight = store && !opts.onprogress ? keys!.flight() : undefined;
    try {
      const result = flight ? await this.shared(flight, opts, askers, sendAndKeep) : await sendAndKeep(opts.signal);
      return done(result.isError === true ? 'error' : 'ok', result);
    } catch (e) {
      if (!(e instanceof CallFailed)) {
        if (opts.signal.aborted) done('cancelled'); // cancelled upstream: recorded (audit), never the child's fault
        throw e; // or the child's answer about the request itself
      }
      // On failure: stale copy → local backup (tools) → clear error
      const stale = await staleCopy();
      if (stale) {
        const mark = { status: 'stale' as const, ageMs: Date.now() - stale.storedAt, server: child.name, reason: e.reason };
        return done('stale', call.answer === 'tool-result' ? staleToolResult(stale.result, mark, e.message) : markCached(stale.result, mark), e);
      }
      if (call.answer === 'json-rpc-error') {
        done(e.reason, undefined, e);
        throw e.childError ?? new ProtocolError(ProtocolErrorCode.InternalError, failureText(child.name, e.reason, e.message));
      }
      const dir = child.config.fallback.backupDir;
      const backup = dir ? await loadBackup() : undefined;
      const hits = backup ? await backup.searchBackup(dir!, call.args, { signal: opts.signal }).catch(() => []) : []; // it logs its own problems; rejects only when cancelled
      if (hits.length) {
        const mark = { status: 'fallback', reason: e.reason, server: child.name, files: hits.map((h) => h.path) };
        return done('fallback', { content: [{ type: 'text', text: backup!.formatBackup(child.name, dir!, hits) }], _meta: { 'mcpx/cache': mark } }, e);
      }
      return done(e.reason, unavailableResult(child.name, e.reason, e.message, child.config.fallback.message), e);
    }
  }

  /** 10. cache.put, never waited for: a salt Redis has not given yet is waited for after the answer has gone. */
  private put(store: ResultStore, keys: CallKeys, plan: CachePlan, call: Call<C>, result: Result, since: Mark | undefined): void {
    const ttlMs = entryTtl(plan, result);
    if (ttlMs === undefined) return;
    const salt = this.deps.keySalt();
    if (salt instanceof Promise) {
      void salt.then((s) => this.putWith(s, store, keys, { call, result, ttlMs, staleTtlMs: plan.staleTtl, since }));
      return;
    }
    this.putWith(salt, store, keys, { call, result, ttlMs, staleTtlMs: plan.staleTtl, since });
  }

  private putWith(salt: Buffer | undefined, store: ResultStore, keys: CallKeys, p: { call: Call<C>; result: Result; ttlMs: number; staleTtlMs: number; since: Mark | undefined }): void {
    const key = keys.store(salt, cacheAdvice(p.result));
    if (key) store.put({ key, server: p.call.child.name, tool: p.call.name, result: p.result, ttlMs: p.ttlMs, staleTtlMs: p.staleTtlMs, since: p.since });
  }

  /** Step 3: the call joins an identical one in flight (its asker becomes one of that call's), or starts it. */
  private shared(key: string, opts: CallOptions, askers: Set<object>, send: (signal: AbortSignal) => Promise<Result>): Promise<Result> {
    if (opts.asker) this.askersOf.get(key)?.add(opts.asker);
    return this.inFlight.run(key, opts.signal, (signal) => {
      this.askersOf.set(key, askers);
      return send(signal).finally(() => this.askersOf.get(key) === askers && this.askersOf.delete(key));
    });
  }

  /** Drops a resource's entries when the child says it was updated: every caller's, whatever their credentials. */
  resourceUpdated(child: C, uri: string): void {
    this.deps.store()?.invalidate({ server: child.name, tool: uri });
  }

  /** 1. route: which child, its own name for what is called, and how this kind of call is handled; undefined: not known (yet). */
  private route(request: Request<C>): Call<C> | undefined {
    if (request.kind === 'forward') {
      const { child, method, params } = request;
      return { child, method, name: method, params, args: params, readOnly: false, writes: false, answer: 'json-rpc-error' };
    }
    const { router } = this.deps;
    if (request.kind === 'resource') {
      const child = router.resource(request.params.uri);
      if (!child) return undefined;
      const c = child.config.cache;
      return {
        child, kind: 'resource', method: 'resources/read', name: request.params.uri, params: request.params, args: {},
        cache: cachePlan(c, undefined, true), readOnly: true, writes: false, answer: 'json-rpc-error',
      };
    }
    const args = request.params.arguments ?? {};
    if (request.kind === 'prompt') {
      const r = router.prompt(request.params.name);
      if (!r) return undefined;
      return { child: r.child, kind: 'prompt', method: 'prompts/get', name: r.name, params: { ...request.params, name: r.name }, args, readOnly: false, writes: false, answer: 'json-rpc-error' };
    }
    const r = router.tool(request.params.name);
    if (!r) return undefined;
    const readOnly = r.tool.annotations?.readOnlyHint === true;
    return {
      child: r.child, kind: 'tool', method: 'tools/call', name: r.name, params: { ...request.params, name: r.name }, args,
      cache: cachePlan(r.child.config.cache, r.name, readOnly), readOnly, writes: !readOnly, answer: 'tool-result',
    };
  }

  /** A name may belong to a child not listed yet (still starting): looked up again once the lists are settled. */
  private async routeSettled(request: Request<C>): Promise<Call<C>> {
    await this.deps.router.settled();
    const call = this.route(request);
    if (!call) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Unknown ${request.kind}: ${'uri' in request.params ? request.params.uri : request.params.name}`);
    return call;
  }

  /**
   * Steps 4–9 for one call to the child (shared by identical calls in flight). Throws CallFailed when
   * mcpx did not send the call (child down, quota, full queue, breaker open) or the child did not answer
   * usefully; other errors (cancellation, the child's answer about the request itself) pass through.
   */
  private async send(call: Call<C>, opts: CallOptions, hasStaleCopy: () => Promise<boolean>, askers: Set<object>): Promise<Result> {
    const { child } = call;
    const { signal } = opts;
    const { admission, breaker, retry, quota } = this.deps.policies(child);
    const timeoutMs = child.config.tools.settings[call.name]?.timeoutMs ?? child.config.timeoutMs;
    // One deadline for the whole call, from here: mcpx's own waits (start, quota, queue) and the child's
    // answer, retries included. A call that waited inside mcpx gave the child less than its deadline:
    // if it then runs out of time, that is not held against the child.
    const t0 = performance.now();
    const left = () => Math.max(1, t0 + timeoutMs - performance.now());
    let waited = false;

    // A lazy child starts on its first call; a child starting right now (mcpx just started and listed
    // it from the stored catalog) is waited for, within the deadline. A child that is down (waiting for
    // its restart) is not: the call takes the fallback path at once.
    if (child.state.kind === 'idle' || child.state.kind === 'starting') {
      waited = true;
      await Promise.race([child.start(), new Promise((r) => setTimeout(r, left()).unref())]);
    }
    // A remote child that refused the credentials: re-read them and reconnect, at most twice a call.
    let reauths = 0;
    while (child.state.kind === 'down' && child.authRejected && reauths < MAX_REAUTH) {
      reauths++;
      waited = true;
      await this.reauthenticate(child, child.connection);
    }
    if (child.state.kind !== 'ready') {
      this.deps.childWanted(child);
      throw new CallFailed('child-down', downReason(child));
    }
    // An open breaker refuses at once, before any wait: no call waits for quota room or a place in the
    // queue only to be refused then. A peek: the probe itself is taken only after admission (step 6).
    const circuitOpen = () => {
      const s = breaker.state;
      const failures = s.kind === 'open' ? s.failures : child.config.breaker.failureThreshold;
      return new CallFailed('breaker-open', `circuit open after ${failures} failures, next try in ${formatDuration(breaker.retryInMs())}`);
    };
    if (breaker.refusing()) throw circuitOpen();

    // 4. quota: over rateLimit, a call with a stale copy is answered from it at once; the others wait
    // for room within the deadline, or are refused. The slot itself is taken once admitted (below).
    const quotaUsedUp = () =>
      new CallFailed('quota', `quota of ${quota!.limit.calls} calls per ${formatDuration(quota!.limit.perMs)} used up, next slot in ${formatDuration(quota!.nextSlotInMs())}`);
    if (quota && !quota.hasRoom()) {
      quota.heldBack++;
      this.emit('quota', { server: child.name }); // held back: answered from the cache, made to wait, or refused
      waited = true;
      if ((await hasStaleCopy()) || !(await quota.waitForRoom(left(), signal))) throw quotaUsedUp();
    }

    // 5. bulkhead: a free slot now (no promise: the usual case), a place in mcpx's bounded queue, or refused at once.
    const slot = admission.tryEnter(signal) ?? (await admission.enter(left(), signal).catch((e: unknown) => {
      throw e instanceof AdmissionRefused ? new CallFailed('queue-full', e.message) : e;
    }));
    waited ||= slot.waited;
    try {
      // The quota slot and the breaker's probe are taken only by a call really sent, so only now.
      // (The room found above may have gone to a call admitted first: then wait for the next.)
      while (quota && !quota.take()) {
        if (!(await quota.waitForRoom(left(), signal))) throw quotaUsedUp();
      }
      // 6. breaker: open → refused (the fallback answers); in half-open this call may be the one probe.
      const pass = breaker.tryAcquire();
      if (!pass) {
        quota?.giveBack();
        throw circuitOpen();
      }

      // 7. deadline: each attempt gets what is left of the call's one deadline, never a fresh one; the
      // SDK cancels the child's request when it passes, and progress resets its idle part.
      const params = withoutProgressToken(call.params);
      const once = (s: AbortSignal) =>
        child.request(call.method, params, {
          signal: s, timeout: left(), resetTimeoutOnProgress: true, maxTotalTimeout: child.config.maxTotalTimeoutMs, onprogress: opts.onprogress, askers,
        });
      const waitedMs = performance.now() - t0;
      let result: Result;
      try {
        for (;;) {
          const connection = child.connection;
          try {
            // 8. child.call: read-only calls are retried on a fast transport failure (policies.ts).
            result = await (call.readOnly ? retry.run(signal, once) : once(signal));
            break;
          } catch (e) {
            // Refused credentials (a token rotated in .env): re-read them, reconnect, try again.
            if (!isAuthFailure(e) || reauths >= MAX_REAUTH || signal.aborted) throw e;
            reauths++;
            waited = true;
            await this.reauthenticate(child, connection);
            if (child.state.kind !== 'ready') throw e;
          }
        }
      } catch (e) {
        // 9. classify: only the child's own failures count against it.
        if (signal.aborted) {
          breaker.release(pass); // cancelled upstream: says nothing about the child
          throw e;
        }
        // The user must sign in again: mcpx's message, and nothing held against the child.
        const login = loginNeededIn(e);
        if (login) {
          breaker.release(pass);
          throw new CallFailed('child-down', login.message);
        }
        const failure = classifyError(e, child, timeoutMs);
        if (!failure) {
          breaker.success(pass); // the child answered, about the request itself: it is healthy
          throw e;
        }
        if (failure.reason === 'timeout' && waited) {
          breaker.release(pass); // mcpx spent part of the deadline: the child did not have all of it
          throw new CallFailed('timeout', `${failure.message} (${formatDuration(waitedMs)} of it waiting inside mcpx)`);
        }
        breaker.failure(pass);
        throw failure;
      }
      // A result whose text matches errorPatterns is a failed upstream fetch reported as text (Context7).
      const pattern = matchErrorPattern(child, result);
      if (pattern) {
        breaker.failure(pass);
        throw new CallFailed('error', `it reported an error: ${pattern}`);
      }
      breaker.success(pass);
      return result;
    } finally {
      slot.release();
    }
  }

  /**
   * Re-reads a child's credentials and reconnects. Calls refused together share one attempt; a call
   * refused on a connection that has been replaced since needs none: it just tries again.
   */
  private reauthenticate(child: C, connection: number): Promise<void> {
    const running = this.reauths.get(child);
    if (running) return running;
    if (child.connection !== connection) return Promise.resolve();
    const attempt = this.deps.reauthenticate(child).finally(() => this.reauths.delete(child));
    this.reauths.set(child, attempt);
    return attempt;
  }
}

/**
 * The TTL of a cache entry: the child's own `ttlMs` advice (2026-07-28 results, see children/advice.ts)
 * where the config sets none for this server or tool, else the config's; undefined: not kept (the
 * config did not ask, and the child advised no positive `ttlMs`). Its `cacheScope` advice chooses the
 * key instead (cache-keys.ts).
 */
function entryTtl(plan: CachePlan, result: Result): number | undefined {
  const advised = plan.adviceWins ? cacheAdvice(result)?.ttlMs : undefined;
  if (plan.byAdvice) return advised !== undefined && advised > 0 ? advised : undefined;
  return advised ?? plan.ttl;
}

/** The first entry found under these keys, in their order: at once from SQLite, in one round trip from Redis. */
function firstOf(keys: string[], get: (key: string) => MaybePromise<CachedEntry | undefined>): MaybePromise<CachedEntry | undefined> {
  if (keys.length === 1) return get(keys[0]!);
  const found = keys.map(get);
  if (!found.some((f) => f instanceof Promise)) return found.find((f) => f !== undefined) as CachedEntry | undefined;
  return Promise.all(found).then((all) => all.find((f) => f !== undefined));
}

/** undefined: not a failure of the child (its answer about the request itself). */
function classifyError(e: unknown, child: PipelineChild, timeoutMs: number): CallFailed | undefined {
  if (isAuthFailure(e)) return new CallFailed('error', `${child.name} rejected the credentials: ${credentialHint(child.config)}`);
  if (isQuestionRefused(e)) return undefined; // mcpx would not pass on the child's question: the child's answer stands, passed on as an error
  // Errors from child.request are the v2 SDK's: SdkError for local failures, ProtocolError for the child's answers.
  if (e instanceof SdkError && e.code === SdkErrorCode.RequestTimeout) return new CallFailed('timeout', `no answer within ${formatDuration(timeoutMs)}`);
  if (isTransportFailure(e)) return new CallFailed('child-down', isMcpxError(e) ? e.message.replace(`${child.name} `, '') : 'the server exited during the call');
  if (e instanceof ProtocolError) {
    // Invalid params / unknown method are answers about the request, not signs of a broken child.
    if (e.code === ProtocolErrorCode.InvalidParams || e.code === ProtocolErrorCode.MethodNotFound) return undefined;
    return new CallFailed('error', `it answered with an error: ${e.message}`, e);
  }
  return new CallFailed('error', errorMessage(e));
}

function matchErrorPattern(child: PipelineChild, result: Result): string | undefined {
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

function downReason(child: PipelineChild): string {
  const s = child.state;
  if (s.kind === 'down') return s.reason;
  if (s.kind === 'disabled') return 'disabled in the config';
  if (s.kind === 'misconfigured') return s.reason;
  return `it is ${s.kind}`;
}

/** The upstream's progress token is not the child's: the SDK client sets its own when there is progress to relay. */
function withoutProgressToken(params: Result): Result {
  const meta = params._meta as Record<string, unknown> | undefined;
  if (!meta || !('progressToken' in meta)) return params;
  const { progressToken: _drop, ...rest } = meta;
  return { ...params, _meta: Object.keys(rest).length ? rest : undefined };
}
