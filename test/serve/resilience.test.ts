// Breaker, deadlines, restarts, stale and backup fallbacks, lazy start and the stored catalog,
// with real mcpx serve processes and fixture children that fail on demand.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { execa } from 'execa';
import { MCPX, addToolAndWait, fixture, marker, mcpxSessions, processesWith, tempDir, text, waitFor, type Mcpx } from '../helpers/mcpx.js';

const { start, stop } = mcpxSessions(afterEach);
const meta = (r: unknown) => ((r as { _meta?: Record<string, unknown> })._meta ?? {})['mcpx/cache'] as Record<string, unknown> | undefined;
const calls = async (m: Mcpx, p: string) => Number(text(await m.client.callTool({ name: `${p}__calls`, arguments: {} })));
const status = async (m: Mcpx) => JSON.parse(text(await m.client.callTool({ name: 'mcpx__status', arguments: {} })));

describe('circuit breaker', () => {
  it('opens after the threshold, then fails fast without reaching the child; a half-open probe closes it after recovery', async () => {
    const dir = tempDir();
    const failFile = join(dir, 'down');
    writeFileSync(failFile, '');
    const m = await start(
      { mcpServers: { conf: fixture('conf', { FAIL_FILE: failFile }, { breaker: { failureThreshold: 3, recoveryTimeoutMs: '1s', successThreshold: 2 }, cache: { enabled: false } }) } },
      { dir },
    );
    for (let i = 0; i < 3; i++) {
      const r = await m.client.callTool({ name: 'conf__echo', arguments: { text: `${i}` } });
      expect(r.isError).toBe(true);
      expect(text(r)).toMatch(/^conf is unavailable: it answered with an error: .*upstream API is down/);
    }
    // Refused without reaching the child (the call count below proves it); how fast is the benchmark's job.
    const fast = await m.client.callTool({ name: 'conf__echo', arguments: { text: 'x' } });
    expect(text(fast)).toMatch(/^conf is unavailable: circuit open after 3 failures, next try in \d+ (ms|s); no cached answer for this call\.$/);
    expect((await status(m)).servers.conf.breaker.state).toBe('open');
    expect((await status(m)).health).toBe('critical');

    rmSync(failFile); // the API comes back
    // Refused at once while open (never reaching the child); after recoveryTimeoutMs the next call is the probe.
    await waitFor(async () => text(await m.client.callTool({ name: 'conf__echo', arguments: { text: 'probe' } })) === 'conf: probe', 5000, 'the half-open probe');
    expect((await status(m)).servers.conf.breaker.state).toBe('half-open');
    expect(text(await m.client.callTool({ name: 'conf__echo', arguments: { text: 'again' } }))).toBe('conf: again');
    expect((await status(m)).servers.conf.breaker.state).toBe('closed');
    expect((await status(m)).health).toBe('healthy');
    expect(await calls(m, 'conf')).toBe(5); // 3 failures + 2 probes: the call refused while open never reached it
  });
});

describe('fallbacks', () => {
  it('serves a stale copy, marked, when the child starts failing', async () => {
    const dir = tempDir();
    const failFile = join(dir, 'down');
    const m = await start({ mcpServers: { docs: fixture('docs', { FAIL_FILE: failFile }, { cache: { ttl: '200ms', staleTtl: '1h' } }) } }, { dir });
    const fresh = await m.client.callTool({ name: 'docs__search', arguments: { query: 'useEffect' } });
    writeFileSync(failFile, '');
    // Hits until the ttl (200 ms) is over; then the child fails and the stale copy answers.
    const stale = await waitFor(async () => {
      const r = await m.client.callTool({ name: 'docs__search', arguments: { query: 'useEffect' } });
      return meta(r)?.status !== 'hit' && r;
    }, 5000, 'the entry to go stale');
    expect(stale.isError).toBeFalsy();
    expect(meta(stale)).toMatchObject({ status: 'stale', reason: 'error', server: 'docs' });
    expect((stale.content as { text: string }[])[0]!.text).toMatch(/^\[mcpx\] Cached copy from \d+ ms ago: docs is unavailable/);
    expect((stale.content as unknown[]).slice(1)).toEqual(fresh.content);
  });

  it('answers from the local backup folder when there is no cached copy', async () => {
    const dir = tempDir();
    const failFile = join(dir, 'down');
    writeFileSync(failFile, '');
    const backup = join(dir, 'confluence-backup');
    mkdirSync(join(backup, 'ops'), { recursive: true });
    writeFileSync(join(backup, 'ops', 'deployment-checklist.md'), '# Deployment checklist\n\nBefore a deployment: run the migrations, then the smoke tests.\n');
    writeFileSync(join(backup, 'holidays.md'), '# Holidays\n\nThe office is closed on public holidays.\n');
    const m = await start({ mcpServers: { confluence: fixture('confluence', { FAIL_FILE: failFile }, { fallback: { backupDir: './confluence-backup' } }) } }, { dir });
    const r = await m.client.callTool({ name: 'confluence__search', arguments: { query: 'deployment checklist' } });
    expect(r.isError).toBeFalsy();
    expect(text(r)).toMatch(/^confluence is unavailable; these are the best matching local copies/);
    expect(text(r)).toContain(join(backup, 'ops', 'deployment-checklist.md'));
    expect(text(r)).toContain('run the migrations');
    expect(text(r)).not.toContain('holidays.md');
    expect(meta(r)).toMatchObject({ status: 'fallback', reason: 'error' });
  });
});

describe('deadlines and supervision', () => {
  it('cuts a hanging call at its deadline, and the next calls do not wait', async () => {
    const m = await start({ mcpServers: { slowpoke: fixture('slowpoke', {}, { timeoutMs: '300ms', tools: { settings: { echo: { timeoutMs: '5s' } } } }) } });
    await m.client.listTools(); // the child is up: what is timed below is the call alone
    const t0 = performance.now();
    const r = await m.client.callTool({ name: 'slowpoke__slow', arguments: { ms: 10_000 } });
    const ms = performance.now() - t0;
    expect(r.isError).toBe(true);
    expect(text(r)).toMatch(/^slowpoke is unavailable: no answer within 300 ms/);
    expect(ms).toBeGreaterThanOrEqual(290); // not cut before its deadline (a lower bound holds under any load)
    const t1 = performance.now();
    expect(text(await m.client.callTool({ name: 'slowpoke__echo', arguments: { text: 'next' } }))).toBe('slowpoke: next');
    // Bounds with room for a loaded machine: what they rule out is waiting for the 10 s the call asked for.
    expect(ms).toBeLessThan(5000);
    expect(performance.now() - t1).toBeLessThan(5000);
  });

  it('restarts a child that crashed and uses it again', async () => {
    const m = await start({ mcpServers: { flaky: fixture('flaky') } });
    const r = await m.client.callTool({ name: 'flaky__crash', arguments: {} });
    expect(text(r)).toMatch(/^flaky is unavailable: the server exited during the call/);
    const during = await m.client.callTool({ name: 'flaky__echo', arguments: { text: 'meanwhile' } });
    expect(during.isError).toBe(true); // the restart is not waited for
    await waitFor(async () => (await status(m)).servers.flaky.state === 'ready', 15_000, 'flaky restarted');
    expect(text(await m.client.callTool({ name: 'flaky__echo', arguments: { text: 'back' } }))).toBe('flaky: back');
    expect((await status(m)).servers.flaky.restarts).toBe(1);
  });
});

describe('instant catalog and lazy start', () => {
  it('lists a known child from the stored catalog before it runs, starts a lazy child on its first call', async () => {
    const dir = tempDir();
    const mark = marker();
    const config = (slowStartMs: number) => ({
      mcpServers: { lazy: fixture('lazy', {}, { start: 'lazy' }, mark), slow: fixture('slow', { START_DELAY_MS: String(slowStartMs) }, {}, mark) },
    });
    const first = await start(config(0), { dir });
    expect((await first.client.listTools()).tools.map((t) => t.name)).toEqual(expect.arrayContaining(['lazy__echo', 'slow__echo']));
    await stop(first);
    await waitFor(() => processesWith(mark).length === 0, 3000, 'first run gone');

    // Now the slow child takes a minute to start: listed from the stored catalog while it is still
    // starting, so the list did not wait for it (however loaded the machine is).
    const second = await start(config(60_000), { dir });
    const names = (await second.client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['lazy__echo', 'slow__echo', 'mcpx__status']));
    expect((await status(second)).servers.slow.state).toBe('starting');
    expect((await status(second)).servers.lazy.state).toBe('lazy');
    // Only the slow eager child runs (starting); its process may be spawned a moment after the list is
    // answered (the list does not wait for execa to load), the lazy one's never before its call.
    await waitFor(() => processesWith(mark).length >= 1, 15_000, 'the slow child spawned');
    expect(processesWith(mark).length).toBe(1);
    expect(text(await second.client.callTool({ name: 'lazy__echo', arguments: { text: 'wake' } }))).toBe('lazy: wake');
    expect(processesWith(mark).length).toBe(2);
  });

  it('sends exactly one list_changed when a child\'s catalog changed since it was stored', async () => {
    const dir = tempDir();
    await stop(await start({ mcpServers: { a: fixture('a') } }, { dir }).then(async (m) => (await m.client.listTools(), m)));
    const m = await start({ mcpServers: { a: fixture('a', { EXTRA_TOOL: '1', START_DELAY_MS: '300' }) } }, { dir });
    let changed = 0;
    m.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void changed++);
    const before = (await m.client.listTools()).tools.map((t) => t.name);
    expect(before).not.toContain('a__extra'); // from the stored catalog
    await waitFor(() => changed > 0, 15_000, 'list_changed');
    expect((await m.client.listTools()).tools.map((t) => t.name)).toContain('a__extra');
    await addToolAndWait(m, 'a', () => changed);
    expect(changed).toBe(2);
  });

  it('sends no list_changed when the stored catalog was right', async () => {
    const dir = tempDir();
    await stop(await start({ mcpServers: { a: fixture('a') } }, { dir }).then(async (m) => (await m.client.listTools(), m)));
    const m = await start({ mcpServers: { a: fixture('a') } }, { dir });
    let changed = 0;
    m.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void changed++);
    await m.client.listTools();
    await waitFor(async () => (await status(m)).servers.a.state === 'ready', 15_000, 'a ready');
    await addToolAndWait(m, 'a', () => changed);
    expect(changed).toBe(1);
  });
});

describe('quota', () => {
  it('holds calls above rateLimit back: waits for a slot, answers from the cache, or refuses; stats count it', async () => {
    const m = await start({
      mcpServers: {
        notion: fixture('notion', {}, { rateLimit: { calls: 3, per: '500ms' }, timeoutMs: '2s', cache: { enabled: false } }),
        strict: fixture('strict', {}, { rateLimit: { calls: 2, per: '1m' }, cache: { ttl: '50ms' } }),
      },
    });
    // notion: 3 calls use the quota; the 4th waits for the first slot to free up (< 500 ms), then goes through.
    const t0 = performance.now();
    for (let i = 0; i < 4; i++) expect(text(await m.client.callTool({ name: 'notion__echo', arguments: { text: `${i}` } }))).toBe(`notion: ${i}`);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(300);

    // strict: 2 calls use the quota for a minute. A call with a stale copy is answered from it at once;
    // one without is refused at once (no slot frees up within its deadline), naming the quota.
    for (const q of ['a', 'b']) await m.client.callTool({ name: 'strict__search', arguments: { query: q } });
    // Hits until 'a' is past its ttl (50 ms); then the quota is used up and its stale copy answers.
    const stale = await waitFor(async () => {
      const r = await m.client.callTool({ name: 'strict__search', arguments: { query: 'a' } });
      return meta(r)?.status !== 'hit' && r;
    }, 5000, "'a' to go stale");
    expect(meta(stale)).toMatchObject({ status: 'stale', reason: 'quota' });
    const refused = await m.client.callTool({ name: 'strict__search', arguments: { query: 'new' } });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toMatch(/^strict is unavailable: quota of 2 calls per 1 min used up, next slot in \d+ s/);

    await stop(m);
    const stats = await execa(process.execPath, [MCPX, 'stats', '--json', '--config', m.configFile], { env: { MCPX_CACHE_DIR: join(m.dir, 'cache') } });
    const held = (name: string) => JSON.parse(stats.stdout).servers.find((s: { server: string }) => s.server === name).quotaHeld;
    expect(held('notion')).toBe(1);
    expect(held('strict')).toBe(2);
  });
});
