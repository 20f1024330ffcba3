// Admission and single flight through real mcpx serve processes: mcpx refusing or
// holding a call is mcpx's decision, never a failure of the child; and each caller of a shared call
// keeps its own cancellation.
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, mcpxSessions, text, waitFor, type Mcpx } from '../helpers/mcpx.js';

const { start } = mcpxSessions(afterEach);
const status = async (m: Mcpx) => JSON.parse(text(await m.client.callTool({ name: 'mcpx__status', arguments: {} })));
const count = async (m: Mcpx, tool: 'calls' | 'cancelled') => Number(text(await m.client.callTool({ name: `docs__${tool}`, arguments: {} })));
/** Resolves once the child has received one call besides these queries (each query is counted by the next one). */
async function reachedChild(m: Mcpx): Promise<void> {
  let asked = 0;
  await waitFor(async () => (await count(m, 'calls')) - asked++ >= 1, 5000, 'the shared call to reach the child');
}

describe('admission: bulkhead first, then the breaker', () => {
  it('200 concurrent calls on a healthy child with maxConcurrent 2, maxQueue 4: refusals name the queue, the breaker stays closed', async () => {
    const m = await start({
      mcpServers: { docs: fixture('docs', {}, { maxConcurrent: 2, maxQueue: 4, cache: { enabled: false }, breaker: { failureThreshold: 3 } }) },
    });
    await m.client.listTools(); // the child is up
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => m.client.callTool({ name: 'docs__slow', arguments: { ms: 100, steps: 1, i } })),
    );
    const ok = answers.filter((r) => !r.isError && text(r) === 'docs: slow done after 100 ms');
    const refused = answers.filter((r) => r.isError);
    process.stderr.write(`admission: ${ok.length} answered by the child, ${refused.length} refused by mcpx\n`);
    expect(ok.length + refused.length).toBe(200);
    expect(ok.length).toBeGreaterThanOrEqual(6); // 2 running + 4 queued
    expect(refused.length).toBeGreaterThan(0);
    for (const r of refused) {
      expect(text(r)).toMatch(/^mcpx's queue for docs is full \(2 running, 4 waiting; maxConcurrent 2, maxQueue 4\)/);
    }
    expect(answers.some((r) => text(r).includes('circuit open'))).toBe(false);
    const s = (await status(m)).servers.docs;
    expect(s.breaker).toMatchObject({ state: 'closed', opens: 0 });
    expect(text(await m.client.callTool({ name: 'docs__echo', arguments: { text: 'after' } }))).toBe('docs: after');
  });

  it('a deadline spent waiting in mcpx\'s queue does not count against the child', async () => {
    const m = await start({
      mcpServers: {
        docs: fixture('docs', {}, { maxConcurrent: 1, maxQueue: 50, timeoutMs: '1s', cache: { enabled: false }, breaker: { failureThreshold: 2 } }),
      },
    });
    await m.client.listTools();
    // 20 calls of 100 ms one at a time: the later ones run out of their 1 s deadline while queued.
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => m.client.callTool({ name: 'docs__slow', arguments: { ms: 100, i } })),
    );
    const failed = answers.filter((r) => r.isError).map(text);
    process.stderr.write(`queue deadline: ${20 - failed.length} answered, ${failed.length} out of time inside mcpx\n`);
    expect(failed.length).toBeGreaterThan(0);
    for (const t of failed) expect(t).toMatch(/^no free slot in mcpx's queue for docs within the call's deadline \(waited \d+ (ms|s); \d+ running|^docs is unavailable: no answer within 1 s \(\d+ (ms|s) of it waiting inside mcpx\)/);
    expect((await status(m)).servers.docs.breaker).toMatchObject({ state: 'closed', opens: 0 });
  });
});

describe('single flight: each caller keeps its own cancellation', () => {
  const config = { mcpServers: { docs: fixture('docs', {}, { cache: { ttl: '1h' } }) } };
  const slow = { name: 'docs__slow', arguments: { ms: 800 } }; // read-only, and cached by its config: identical calls share one child call

  it('one of two identical calls cancelled: the other still gets the child\'s answer', async () => {
    const m = await start(config);
    const gone = new AbortController();
    const first = m.client.callTool(slow, undefined, { signal: gone.signal });
    const second = m.client.callTool(slow);
    await reachedChild(m);
    gone.abort();
    await expect(first).rejects.toThrow();
    expect(text(await second)).toBe('docs: slow done after 800 ms');
    expect(await count(m, 'cancelled')).toBe(0);
  });

  it('every caller cancelled: the shared child call is cancelled too', async () => {
    const m = await start(config);
    const callers = [new AbortController(), new AbortController()];
    const pending = callers.map((c) => m.client.callTool(slow, undefined, { signal: c.signal }));
    await reachedChild(m);
    callers[0]!.abort();
    await expect(pending[0]).rejects.toThrow();
    expect(await count(m, 'cancelled')).toBe(0); // one caller still waits
    callers[1]!.abort();
    await expect(pending[1]).rejects.toThrow();
    await waitFor(async () => (await count(m, 'cancelled')) === 1, 5000, 'the child call to be cancelled');
  });
});
