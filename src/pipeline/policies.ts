import { ExponentialBackoff, handleWhen, retry, type RetryPolicy } from 'cockatiel';
import { SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import type { ServerCacheSettings, ServerConfig } from '../config/types.js';
import { isMcpxError } from '../errors.js';
import { Admission } from './admission.js';
import { Breaker } from './breaker.js';
import { Quota } from './quota.js';

/**
 * The policies in front of one child, built once from its config (a breaker only works when shared).
 * Retry is cockatiel's; the bulkhead (admission.ts) and the breaker (breaker.ts) are ours (each says why).
 */
export interface ChildPolicies {
  admission: Admission;
  breaker: Breaker;
  /** Retries for read-only tools: transport failures only (a deadline uses up the call's time). */
  retry: RetryPolicy;
  /** The call quota, when the config sets `rateLimit`. */
  quota?: Quota;
}

export function buildPolicies(config: ServerConfig): ChildPolicies {
  return {
    admission: new Admission(config.name, config.maxConcurrent, config.maxQueue),
    breaker: new Breaker(config.breaker),
    quota: config.rateLimit && new Quota(config.rateLimit),
    retry: retry(handleWhen(isTransportFailure), {
      maxAttempts: config.retries,
      backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 500 }), // decorrelated jitter; short: it spends the call's deadline
    }),
  };
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
