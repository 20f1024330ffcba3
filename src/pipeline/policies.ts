import { ExponentialBackoff, type IBackoff, type IBackoffFactory } from 'cockatiel';
import { SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import type { ServerCacheSettings, ServerConfig } from '../config/types.js';
import { isMcpxError } from '../errors.js';
import { Admission } from './admission.js';
import { Breaker } from './breaker.js';
import { Quota } from './quota.js';

/**
 * The policies in front of one child, built once from its config (a breaker only works when shared).
 * The retry's backoff is cockatiel's; the retry loop (below), the bulkhead (admission.ts) and the breaker
 * (breaker.ts) are ours (each says why).
 */
export interface ChildPolicies {
  admission: Admission;
  breaker: Breaker;
  /** Retries for read-only tools: transport failures only (a deadline uses up the call's time). */
  retry: Retry;
  /** The call quota, when the config sets `rateLimit`. */
  quota?: Quota;
}

export function buildPolicies(config: ServerConfig): ChildPolicies {
  return {
    admission: new Admission(config.name, config.maxConcurrent, config.maxQueue),
    breaker: new Breaker(config.breaker),
    quota: config.rateLimit && new Quota(config.rateLimit),
    retry: new Retry(config.retries),
  };
}

/**
 * Read-only calls: a transport failure is tried again, at most `attempts` times, after cockatiel's
 * backoff (decorrelated jitter from 100 ms up to 500 ms: short, it spends the call's deadline); any other
 * error, or a cancelled call, is not. Not cockatiel's RetryPolicy.execute: it costs two async functions
 * and ~1.4 KB of garbage on every call, while nearly every call succeeds the first time; here the first
 * attempt costs one `.catch`.
 */
export class Retry {
  constructor(
    readonly attempts: number,
    private readonly backoff: IBackoffFactory<undefined> = new ExponentialBackoff({ initialDelay: 100, maxDelay: 500 }),
  ) {}

  run<T>(signal: AbortSignal, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const first = attempt(signal);
    return this.attempts ? first.catch((e: unknown) => this.again(e, signal, attempt)) : first;
  }

  private async again<T>(error: unknown, signal: AbortSignal, attempt: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let backoff: IBackoff<undefined> | undefined;
    for (let tried = 0; ; tried++) {
      if (tried >= this.attempts || signal.aborted || !isTransportFailure(error)) throw error;
      backoff = (backoff ?? this.backoff).next(undefined);
      const ms = backoff.duration;
      await new Promise((r) => setTimeout(r, ms));
      try {
        return await attempt(signal);
      } catch (e) {
        error = e;
      }
    }
  }
}

/** True when two entries give the same policies (a reload keeps the breaker's state when they do). */
export function samePolicySettings(a: ServerConfig, b: ServerConfig): boolean {
  const used = (c: ServerConfig) => JSON.stringify([c.maxConcurrent, c.maxQueue, c.breaker, c.rateLimit ?? null, c.retries]);
  return used(a) === used(b);
}

/** The connection failed (child exited, pipe closed, not running): worth one more try. */
export function isTransportFailure(e: unknown): boolean {
  // v2 SDK: the connection closed (the child exited) or the message could not be written.
  if (e instanceof SdkError) return e.code === SdkErrorCode.ConnectionClosed || e.code === SdkErrorCode.SendFailed || e.code === SdkErrorCode.NotConnected;
  return isMcpxError(e) && e.code === 'CHILD_DOWN';
}

/**
 * How one tool's results (or, with `tool` undefined, a resource's) may be cached. Opt-in: `readOnlyHint`
 * says a tool changes nothing, not that its answer stays true, so the config must ask (the server's or
 * the defaults' `cache` block, or `cache.tools.NAME`, which also makes a tool without the hint
 * cacheable). Otherwise a read-only tool's result is kept only when a 2026-07-28 child advises a
 * `ttlMs` for it (`byAdvice`). `cache.enabled: false` and `cache.tools.NAME: false` turn it all off.
 */
export interface CachePlan {
  ttl: number;
  staleTtl: number;
  /** No TTL in the config for this entry: a modern child's `ttlMs` advice sets it. */
  adviceWins: boolean;
  /** The config did not ask: only a result with `ttlMs` advice is kept, for that long. */
  byAdvice: boolean;
}

export function cachePlan(c: ServerCacheSettings, tool: string | undefined, readOnly: boolean): CachePlan | undefined {
  const listed = tool === undefined ? undefined : c.tools[tool];
  if (!c.enabled || listed === false) return undefined;
  if (listed) return { ttl: listed.ttl ?? c.ttl, staleTtl: listed.staleTtl ?? c.staleTtl, adviceWins: listed.ttl === undefined && !c.ttlExplicit, byAdvice: false };
  if (!readOnly) return undefined;
  if (c.readOnly) return { ttl: c.ttl, staleTtl: c.staleTtl, adviceWins: !c.ttlExplicit, byAdvice: false };
  return { ttl: 0, staleTtl: c.staleTtl, adviceWins: true, byAdvice: true };
}
