import { ExponentialBackoff, handleWhen, retry, type RetryPolicy } from 'cockatiel';
import { SdkError, SdkErrorCode } from '@modelcontextprotocol/client';
import type { ServerConfig } from '../config/types.js';
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
