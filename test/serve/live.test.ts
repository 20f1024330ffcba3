// Live config: mcpx serve applies edits of its config file while a client stays connected.
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { fixture, markedSessions, processesWith, text, waitFor, type Mcpx } from '../helpers/mcpx.js';
import { isRunning } from '../../src/util/proc.js';

const { sessions, mark } = markedSessions(afterEach);

/** Children start slowly on a busy machine: generous bounds, never fixed sleeps. */
const SLOW = 20_000;

type Status = { config?: { file: string; error?: { message: string } }; servers: Record<string, { state: string; pid?: number }> };

async function status(m: Mcpx): Promise<Status> {
  const r = await m.client.readResource({ uri: 'mcpx://status' });
  return JSON.parse(String((r.contents[0] as { text: string }).text)) as Status;
}

async function toolNames(m: Mcpx): Promise<string[]> {
  return (await m.client.listTools()).tools.map((t) => t.name);
}

/**
 * Starts mcpx with `servers`, counts the tools/list_changed it sends and what tools/list answers right
 * after each one, and waits until every child is ready and announced.
 */
async function startWith(servers: Record<string, unknown>) {
  const m = await sessions.start({ mcpServers: servers });
  const seen = { count: 0, names: [] as string[] };
  m.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
    seen.count++;
    seen.names = await toolNames(m);
  });
  await waitFor(async () => Object.values((await status(m)).servers).every((s) => s.state === 'ready'), SLOW, 'children ready');
  await waitFor(() => seen.count >= 1, SLOW, 'the list_changed of start-up');
  const write = (next: Record<string, unknown>) => writeFileSync(m.configFile, JSON.stringify({ mcpServers: next }, null, 2));
  /** Writes the config, then waits for a list_changed after which the tool list satisfies `ok`. */
  const edit = async (next: Record<string, unknown>, ok: (names: string[]) => boolean) => {
    const before = seen.count;
    write(next);
    await waitFor(() => seen.count > before && ok(seen.names), SLOW, 'a list_changed followed by the new list');
    return seen.names;
  };
  return { m, seen, write, edit };
}

const pidOf = async (m: Mcpx, name: string) => (await status(m)).servers[name]?.pid;
const has = (...names: string[]) => (list: string[]) => names.every((n) => list.includes(n));

// Each test starts several children: tens of seconds on a busy shared machine, a few on a quiet one.
describe('live reload of the config file', { timeout: 90_000 }, () => {
  it('starts added servers, stops removed ones, restarts changed ones and keeps the untouched one', async () => {
    const { m, edit } = await startWith({ a: fixture('a', {}, {}, mark()) });
    const pidA = (await pidOf(m, 'a'))!;
    expect(pidA).toBeGreaterThan(0);

    await edit({ a: fixture('a', {}, {}, mark()), b: fixture('b', {}, {}, mark()), c: fixture('c', {}, {}, mark()) }, has('b__echo', 'c__echo'));
    expect(await pidOf(m, 'a')).toBe(pidA);
    // Listed at once from the stored catalog (same command as a), then up.
    const pidB = await waitFor(() => pidOf(m, 'b'), SLOW, 'b up');
    const pidC = await waitFor(() => pidOf(m, 'c'), SLOW, 'c up');

    // One edit: remove b, change a's identity (its env: a restart, with one more tool), hide a tool of c (in place).
    const names = await edit(
      { a: fixture('a', { EXTRA_TOOL: '1' }, {}, mark()), c: fixture('c', {}, { tools: { exclude: ['search'] } }, mark()) },
      (list) => list.includes('a__extra') && !list.includes('c__search') && !list.some((n) => n.startsWith('b__')),
    );
    expect(names).toContain('c__echo');
    const s = await status(m);
    expect(Object.keys(s.servers)).toEqual(['a', 'c']);
    expect(s.servers.a!.pid).not.toBe(pidA);
    expect(s.servers.c!.pid).toBe(pidC); // in place: same process, same connection
    await waitFor(() => !isRunning(pidB) && !isRunning(pidA), SLOW, 'the removed and the replaced process gone');
    expect(text(await m.client.callTool({ name: 'a__echo', arguments: { text: 'x' } }))).toBe('a: x');
    expect(processesWith(mark()).sort()).toEqual([s.servers.a!.pid, pidC].sort());
  });

  it('a call in flight to a removed server gets the fallback answer; a call arriving while its child restarts waits for it', async () => {
    const { m, write } = await startWith({ a: fixture('a', {}, {}, mark()), b: fixture('b', {}, {}, mark()) });
    const pidA = await pidOf(m, 'a');

    const inFlight = m.client.callTool({ name: 'b__slow', arguments: { ms: 60_000 } });
    await waitFor(async () => text(await m.client.callTool({ name: 'b__calls', arguments: {} })) === '1', SLOW, 'the slow call to reach b');
    write({ a: fixture('a', {}, {}, mark()) });
    const answer = await inFlight; // not left hanging: answered once b is stopped
    expect(answer.isError).toBe(true);
    expect(text(answer)).toMatch(/^b is unavailable: /);

    // a restarts slowly (a changed env, and a 1.5 s start): a call made meanwhile waits and gets the new a.
    write({ a: fixture('a', { START_DELAY_MS: '1500' }, {}, mark()) });
    await waitFor(async () => (await status(m)).servers.a?.state === 'starting', SLOW, 'a restarting');
    const r = await m.client.callTool({ name: 'a__echo', arguments: { text: 'during restart' } });
    expect(r.isError).toBeFalsy();
    expect(text(r)).toBe('a: during restart');
    const after = await pidOf(m, 'a');
    expect(after).toBeGreaterThan(0);
    expect(after).not.toBe(pidA);
  });

  it('an invalid edit keeps the last good config serving and says what is wrong until a valid edit arrives', async () => {
    const { m, seen, write, edit } = await startWith({ a: fixture('a', {}, {}, mark()) });
    const pidA = await pidOf(m, 'a');
    const announced = seen.count;
    const configError = async (word: string) => {
      const msg = (await status(m)).config?.error?.message;
      return msg?.includes(word) ? msg : undefined;
    };

    writeFileSync(m.configFile, '{"mcpServers": {"a": ');
    const bad = await waitFor(() => configError('not valid JSON'), SLOW, 'the JSON error in the status');
    expect(bad).toContain(m.configFile);

    write({ a: fixture('a', {}, {}, mark()), b: fixture('b', {}, { timeoutMs: 'soon' }, mark()) });
    const field = await waitFor(() => configError('timeoutMs'), SLOW, 'the field error in the status');
    expect(field).toBe(`${m.configFile}: server "b", field "timeoutMs": must be a duration (milliseconds, or "500ms", "30s", "15m", "2h", "1d"), got "soon"`);

    write({ a: fixture('a', {}, {}, mark()), b: fixture('b', { API_TOKEN: '${MCPX_TEST_NEVER_SET}' }, {}, mark()) });
    const variable = await waitFor(() => configError('MCPX_TEST_NEVER_SET'), SLOW, 'the variable error in the status');
    expect(variable).toBe(`${m.configFile}: server "b": variable MCPX_TEST_NEVER_SET is not set (used in env.API_TOKEN)`);

    // Through all of it: a served by the same process, nothing announced, b never started.
    expect(await pidOf(m, 'a')).toBe(pidA);
    expect(await toolNames(m)).toContain('a__echo');
    expect(text(await m.client.callTool({ name: 'a__echo', arguments: { text: 'still' } }))).toBe('a: still');
    expect(seen.count).toBe(announced);
    expect(processesWith(mark())).toEqual([pidA]);
    expect(m.stderr()).toContain(`${field}; still serving the last good config`);
    expect(readFileSync(join(m.dir, 'state', 'mcpx.log'), 'utf8')).toContain(`${variable}; still serving the last good config`);

    await edit({ a: fixture('a', {}, {}, mark()), b: fixture('b', {}, {}, mark()) }, has('a__echo', 'b__echo'));
    expect((await status(m)).config?.error).toBeUndefined();
    expect(await pidOf(m, 'a')).toBe(pidA);
  });

  it('a file saved in two steps tears nothing down: the half is refused, the whole is applied', async () => {
    const { m, seen } = await startWith({ a: fixture('a', {}, {}, mark()) });
    const pidA = await pidOf(m, 'a');
    const announced = seen.count;
    const whole = JSON.stringify({ mcpServers: { a: fixture('a', {}, {}, mark()), b: fixture('b', {}, {}, mark()) } }, null, 2);
    const half = Math.floor(whole.length / 2);

    writeFileSync(m.configFile, whole.slice(0, half));
    await waitFor(async () => (await status(m)).config?.error, SLOW, 'the half file to be refused');
    expect(await pidOf(m, 'a')).toBe(pidA);
    expect(await toolNames(m)).toContain('a__echo');
    expect(seen.count).toBe(announced);

    appendFileSync(m.configFile, whole.slice(half));
    await waitFor(() => seen.count > announced && has('a__echo', 'b__echo')(seen.names), SLOW, 'the whole file applied');
    expect((await status(m)).config?.error).toBeUndefined();
    expect(await pidOf(m, 'a')).toBe(pidA);
  });
});
