// Chaos: four children — one failing 20% of calls, one hanging now and then, one crashing
// every N calls, one healthy — and 1,000 calls of which 70% repeat earlier answered read-only calls.
// mcpx must stay up, answer every call, and answer at least 99% of the repeated read calls fresh or
// stale, and leave no process behind. How fast it answers depends on the machine's load (`late`
// was 8 on a busy machine), so the timings are printed, not asserted: a wall-clock bound is a
// benchmark's job.
import { describe, expect, it } from 'vitest';
import { fixture, marker, processesWith, startMcpx, text, waitFor } from '../helpers/mcpx.js';

const CALLS = 1000;
const IN_FLIGHT = 8;
const DEADLINE_MS = 1000;

describe('chaos', () => {
  it('stays up and answers every call, repeated reads from the cache', async () => {
    const mark = marker();
    const m = await startMcpx({
      defaults: { timeoutMs: DEADLINE_MS, cache: { ttl: '300ms', staleTtl: '1h' }, maxRestarts: 50 },
      mcpServers: {
        flaky: fixture('flaky', { FAIL_RATE: '0.2' }, {}, mark),
        hangy: fixture('hangy', { HANG_RATE: '0.03' }, {}, mark),
        crashy: fixture('crashy', { CRASH_AFTER: '25' }, {}, mark),
        steady: fixture('steady', {}, {}, mark),
      },
    });
    const servers = ['flaky', 'hangy', 'crashy', 'steady'];
    const answered: { name: string; query: string }[] = [];
    const tally = { total: 0, late: 0, repeats: 0, repeatsServed: 0, fresh: 0, hit: 0, stale: 0, errors: 0 };
    const times: number[] = [];
    let seed = 42;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

    const one = async (i: number) => {
      const repeat = answered.length > 0 && rand() < 0.7;
      const call = repeat ? answered[Math.floor(rand() * answered.length)]! : { name: `${servers[i % 4]}__search`, query: `q${i}` };
      const t0 = performance.now();
      // The client waits long: an answer is what is asserted, not how soon it came.
      const r = await m.client.callTool({ name: call.name, arguments: { query: call.query } }, undefined, { timeout: 60_000 });
      const ms = performance.now() - t0;
      tally.total++;
      times.push(ms);
      if (ms > DEADLINE_MS + 1000) tally.late++;
      const status = ((r._meta ?? {})['mcpx/cache'] as { status?: string } | undefined)?.status;
      const ok = !r.isError && text(r).includes('results for');
      if (status === 'hit') tally.hit++;
      else if (status === 'stale') tally.stale++;
      else if (ok) tally.fresh++;
      else tally.errors++;
      if (repeat) {
        tally.repeats++;
        if (ok) tally.repeatsServed++;
      } else if (ok && !status) answered.push(call);
    };

    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < CALLS) await one(next++);
      }),
    );

    const status = JSON.parse(text(await m.client.callTool({ name: 'mcpx__status', arguments: {} })));
    const share = tally.repeatsServed / tally.repeats;
    times.sort((a, b) => a - b);
    const at = (q: number) => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]!);
    // The figures, for the record (in the test output); the timings depend on the machine's load.
    console.log(
      `chaos: ${tally.total} calls, p50 ${at(0.5)} ms, p95 ${at(0.95)} ms, max ${at(1)} ms, over deadline + 1 s: ${tally.late}; ` +
        `fresh ${tally.fresh}, hit ${tally.hit}, stale ${tally.stale}, errors ${tally.errors}; ` +
        `repeated reads served ${tally.repeatsServed}/${tally.repeats} (${(share * 100).toFixed(2)}%); crashy restarts ${status.servers.crashy.restarts}`,
    );
    expect(tally.total).toBe(CALLS); // every call answered (a call with no answer would have thrown)
    expect(share).toBeGreaterThanOrEqual(0.99);
    // crashy crashed during the run; its restart comes after a 1 s backoff, which a quick run may not outlast.
    const restarted = async () => JSON.parse(text(await m.client.callTool({ name: 'mcpx__status', arguments: {} }))).servers.crashy.restarts > 0;
    await waitFor(restarted, 15_000, 'crashy restarted');
    expect(text(await m.client.callTool({ name: 'steady__echo', arguments: { text: 'still here' } }))).toBe('steady: still here');
    await m.close();
    await waitFor(() => processesWith(mark).length === 0, 5000, 'children gone');
  }, 600_000); // generous: on a loaded machine 1,000 calls through four children take a while
});
