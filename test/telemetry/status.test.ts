// The status tally (aggregated in place): latency percentiles over the last 256 calls from a
// ring, the last error's time kept as epoch ms and shown as an ISO timestamp.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Child } from '../../src/children/child.js';
import type { CallEvent, Pipeline } from '../../src/pipeline/call.js';
import { StatusTracker } from '../../src/telemetry/status.js';

const child = { name: 'a', state: { kind: 'ready', since: 0 }, config: { prefix: 'a', protocol: 'auto', cache: { scope: 'credential' } }, catalog: { tools: [] } } as unknown as Child;
const supervisor = { restarts: () => 0 } as never;

function tracker() {
  const pipeline = new EventEmitter() as unknown as Pipeline;
  const t = new StatusTracker(pipeline, [child], new Map(), supervisor);
  const call = (e: Partial<CallEvent>) => pipeline.emit('call', { server: 'a', kind: 'tool', name: 'echo', args: {}, outcome: 'ok', cacheable: false, ms: 1, ...e });
  const server = (viewer?: string) => (t.snapshot(viewer).servers as Record<string, { latencyMs: { p50?: number; p95?: number }; lastError?: { at: string; reason: string } }>).a!;
  return { call, server };
}

describe('StatusTracker', () => {
  it('takes p50 and p95 over the last 256 call times only', () => {
    const { call, server } = tracker();
    expect(server().latencyMs).toEqual({ p50: undefined, p95: undefined });
    for (let i = 0; i < 100; i++) call({ ms: 1000 }); // pushed out of the ring below
    for (let i = 1; i <= 256; i++) call({ ms: i });
    expect(server().latencyMs).toEqual({ p50: 129, p95: 244 });
    call({ outcome: 'hit', ms: 5000 }); // a hit is no call time of the child's
    expect(server().latencyMs).toEqual({ p50: 129, p95: 244 });
  });

  it('shows the last error with an ISO time', () => {
    const { call, server } = tracker();
    const before = Date.now();
    call({ outcome: 'timeout', reason: 'timeout', error: 'no answer within 1 s' });
    const last = server().lastError!;
    expect(last).toMatchObject({ reason: 'timeout', message: 'no answer within 1 s' });
    expect(Date.parse(last.at)).toBeGreaterThanOrEqual(before - 1);
    expect(last.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it("keeps the child's own last failure when mcpx then refuses calls (breaker open, full queue, quota): the refusal would hide why", () => {
    const { call, server } = tracker();
    call({ outcome: 'breaker-open', reason: 'breaker-open', error: 'circuit open after 5 failures, next try in 30 s' });
    expect(server().lastError).toMatchObject({ reason: 'breaker-open' }); // nothing of the child's to show yet
    call({ outcome: 'error', reason: 'error', error: 'it answered with an error: getaddrinfo ENOTFOUND api.notion.com' });
    for (const reason of ['breaker-open', 'queue-full', 'quota'] as const) call({ outcome: reason, reason, error: `refused: ${reason}` });
    expect(server().lastError).toMatchObject({ reason: 'error', message: 'it answered with an error: getaddrinfo ENOTFOUND api.notion.com' });
    call({ outcome: 'timeout', reason: 'timeout', error: 'no answer within 1 s' }); // the child's again: replaces it
    expect(server().lastError).toMatchObject({ reason: 'timeout', message: 'no answer within 1 s' });
  });

  it("shows a last error's message to the caller whose call failed and to this host's user; another caller sees only that it failed", () => {
    const { call, server } = tracker();
    call({ outcome: 'error', reason: 'error', error: 'it answered with an error: no access to "acme merger"', caller: 'alice' });
    expect(server().lastError).toMatchObject({ reason: 'error', message: expect.stringContaining('acme merger') });
    expect(server('alice').lastError).toMatchObject({ reason: 'error', message: expect.stringContaining('acme merger') });
    expect(server('bob').lastError).toEqual({ at: expect.any(String), reason: 'error', message: undefined });
    call({ outcome: 'timeout', reason: 'timeout', error: 'no answer within 1 s' }); // whose is not known: nobody's over HTTP
    expect(server('alice').lastError).toMatchObject({ reason: 'timeout', message: undefined });
  });
});
