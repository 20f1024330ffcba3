// How serve survives and how it stops: a rejected promise is logged and serve
// goes on; a clean stop exits 0, a forced one does not (130 / 143 after a second SIGINT / SIGTERM,
// 1 when a child had to be killed or the stop ran out of time), and no process is left either way.
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { McpxError } from '../../src/errors.js';
import { stopper } from '../../src/server/serve.js';
import { ROOT, fixture, marker, mcpxSessions, processesWith, rawServe, tempDir, text, waitFor, writeConfig } from '../helpers/mcpx.js';

const { start } = mcpxSessions(afterEach);
const REJECT_ON_SIGUSR2 = join(ROOT, 'test/fixtures/reject-on-signal.mjs');
const INIT = {
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'claude-code', version: '2.0.0' } },
};

describe('a rejected promise in serve', () => {
  it.each([
    ['without --debug: one line, no stack', [], false],
    ['with --debug: the stack too', ['--debug'], true],
  ])('is logged and serve goes on, %s', async (_, args, stack) => {
    const m = await start({ mcpServers: { a: fixture('a') } }, { nodeArgs: ['--import', REJECT_ON_SIGUSR2], args });
    expect(text(await m.client.callTool({ name: 'a__echo', arguments: { text: 'before' } }))).toBe('a: before');
    process.kill(m.pid, 'SIGUSR2');
    await waitFor(() => m.stderr().includes('boom: a promise nobody awaited'), 5000, 'the rejection logged');
    expect(m.stderr()).toMatch(/mcpx error: serve: an operation failed and nobody was waiting for it \(serving on\): boom: a promise nobody awaited/);
    expect(/^\s+at .*reject-on-signal\.mjs/m.test(m.stderr())).toBe(stack);
    expect(text(await m.client.callTool({ name: 'a__echo', arguments: { text: 'after' } }))).toBe('a: after');
  });
});

describe('stopping serve', () => {
  /** serve with one child that only SIGKILL stops: its stop takes the full escalation (~1.2 s). */
  async function serveWithStubbornChild() {
    const dir = tempDir();
    const mark = marker();
    const file = writeConfig({ mcpServers: { stubborn: fixture('stubborn', { STAY_ALIVE: '1', IGNORE_SIGTERM: '1' }, {}, mark) } }, dir);
    const s = rawServe(file, dir);
    s.send(INIT);
    await s.response(1);
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    // Listed once it is up (its SIGTERM handler is installed before it answers anything).
    s.send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
    expect((await s.response(2)).result.tools.map((t: { name: string }) => t.name)).toContain('stubborn__echo');
    expect(processesWith(mark)).toHaveLength(1);
    return { s, mark };
  }

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('a second %s forces the stop: exit %i, every child killed', async (signal, code) => {
    const { s, mark } = await serveWithStubbornChild();
    s.proc.kill(signal);
    await waitFor(() => s.stderr().includes(`stopping (${signal})`), 5000, 'the stop under way');
    s.proc.kill(signal);
    expect(await s.exited).toEqual({ code, signal: null });
    expect(s.stderr()).toMatch(new RegExp(`mcpx: stopped by force: a second ${signal} arrived before the stop had finished`));
    await waitFor(() => processesWith(mark).length === 0, 3000, 'the child gone');
  });

  it('a stop that had to kill a child (SIGKILL) exits 1, naming it', async () => {
    const { s, mark } = await serveWithStubbornChild();
    s.proc.kill('SIGTERM');
    expect(await s.exited).toEqual({ code: 1, signal: null });
    expect(s.stderr()).toMatch(/stubborn: did not stop on SIGTERM; killed its process group/);
    expect(s.stderr()).toMatch(/mcpx: stopped, but stubborn had to be killed \(SIGKILL\)/);
    expect(processesWith(mark)).toEqual([]);
  });
});

describe('stopper (fake clock)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves with nothing after a clean stop, once, whatever else arrives', async () => {
    const stop = vi.fn(async () => []);
    const kill = vi.fn();
    const s = stopper(stop, kill, 1000);
    s.stop('stdin closed');
    s.stop('stdin closed'); // stdin's end and close both fire
    expect(await s.done).toBeUndefined();
    expect(stop).toHaveBeenCalledTimes(1);
    expect(kill).not.toHaveBeenCalled();
  });

  it('forces the stop when it outlasts its budget: kill, exit 1', async () => {
    vi.useFakeTimers();
    const kill = vi.fn();
    const s = stopper(() => new Promise<string[]>(() => {}), kill, 1000);
    s.stop('SIGTERM', 'SIGTERM');
    await vi.advanceTimersByTimeAsync(999);
    expect(kill).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    const failure = await s.done;
    expect(kill).toHaveBeenCalledTimes(1);
    expect(failure).toBeInstanceOf(McpxError);
    expect(failure).toMatchObject({ code: 'FORCED_STOP', exitCode: 1, message: 'stopped by force: the stop took longer than 1000 ms' });
  });

  it('a second stop without a signal (stdin closing during a SIGINT stop) does not force it', async () => {
    let finish!: (killed: string[]) => void;
    const kill = vi.fn();
    const s = stopper(() => new Promise<string[]>((r) => (finish = r)), kill, 1000);
    s.stop('SIGINT', 'SIGINT');
    s.stop('stdin closed');
    finish([]);
    expect(await s.done).toBeUndefined();
    expect(kill).not.toHaveBeenCalled();
  });

  it('a stop that throws does not report success', async () => {
    const s = stopper(async () => Promise.reject(new Error('disk gone')), vi.fn(), 1000);
    s.stop('stdin closed');
    expect(await s.done).toMatchObject({ code: 'FORCED_STOP', exitCode: 1, message: 'the stop failed: disk gone' });
  });
});
