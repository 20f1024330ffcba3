// applyDiff against a fake set of children, and the Hub's held announcements, on fake timers.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Child, ChildState } from '../../src/children/child.js';
import { diffConfigs } from '../../src/config/diff.js';
import { normalizeConfig } from '../../src/config/normalize.js';
import type { Config, ServerConfig } from '../../src/config/types.js';
import { ANNOUNCE_WITHIN_MS, applyDiff, type LiveChildren } from '../../src/runtime/apply.js';
import { Hub } from '../../src/runtime/hub.js';
import { NO_UPSTREAM } from '../../src/runtime/runtime.js';

const load = (servers: Record<string, Record<string, unknown>>) =>
  normalizeConfig({ raw: { mcpServers: servers }, file: '/work/mcpx.json', foundBy: 'flag', vars: {}, envFiles: [] }).config;
const entry = (extra: Record<string, unknown> = {}) => ({ command: 'node', args: ['server.js'], ...extra });

/** Children that record what was done to them; start() resolves when the test says so. */
function fakeChildren(config: Config, state: ChildState['kind'] = 'ready') {
  const log: string[] = [];
  let release!: () => void;
  const started = new Promise<void>((r) => (release = r));
  const make = (s: ServerConfig, kind: ChildState['kind']) =>
    ({ name: s.name, config: s, state: { kind }, catalog: undefined, start: () => (log.push(`start ${s.name}`), started) }) as unknown as Child;
  const children = config.servers.map((s) => make(s, state));
  const batches = { open: 0 };
  const live: LiveChildren = {
    children,
    add: (s) => (log.push(`add ${s.name}`), children.push(make(s, 'idle')), children.at(-1)!),
    remove: async (c) => void (log.push(`remove ${c.name}`), children.splice(children.indexOf(c), 1)),
    update: (c, s) => void (log.push(`update ${c.name}`), (c.config = s)),
    restart: (c) => (log.push(`restart ${c.name}`), started),
    order: (names) => void log.push(`order ${names.join(',')}`),
    batch: async (fn) => {
      batches.open++;
      try {
        return await fn();
      } finally {
        batches.open--;
        log.push('announce');
      }
    },
  };
  return { live, log, release, batches };
}

describe('applyDiff', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('removes, restarts, updates in place and adds in one batch, announced once the new children are up', async () => {
    const before = load({ gone: entry(), moved: entry(), tuned: entry(), lazy: entry({ start: 'lazy' }) });
    const after = load({ moved: entry({ args: ['v2.js'] }), tuned: entry({ timeoutMs: '5s' }), lazy: entry({ start: 'lazy', env: { X: '1' } }), fresh: entry() });
    const { live, log, release } = fakeChildren(before);
    live.children.find((c) => c.name === 'lazy')!.state = { kind: 'idle' }; // never started: no restart, new settings for its first start
    const done = applyDiff(live, diffConfigs(before, after), after);
    await vi.advanceTimersByTimeAsync(0);
    expect(log).toEqual(['remove gone', 'update moved', 'restart moved', 'update lazy', 'update tuned', 'add fresh', 'start fresh', 'order moved,tuned,lazy,fresh']);
    release(); // the restarted and the added child are up: the batch ends, one announcement
    const summary = await done;
    expect(log.at(-1)).toBe('announce');
    expect(summary).toMatchObject({ added: ['fresh'], removed: ['gone'], restarted: ['moved'], updated: ['lazy', 'tuned'] });
  });

  it('announces after ANNOUNCE_WITHIN_MS when a child is slow to start (it announces itself once up)', async () => {
    const before = load({});
    const after = load({ slow: entry() });
    const { live, log } = fakeChildren(before);
    const done = applyDiff(live, diffConfigs(before, after), after);
    await vi.advanceTimersByTimeAsync(ANNOUNCE_WITHIN_MS - 1);
    expect(log).not.toContain('announce');
    await vi.advanceTimersByTimeAsync(1);
    await done;
    expect(log.at(-1)).toBe('announce');
  });

  it('replaces a child whose `disabled` changed (its state was set when it was made)', async () => {
    const before = load({ a: entry() });
    const after = load({ a: entry({ disabled: true }) });
    const { live, log, release } = fakeChildren(before);
    release();
    await applyDiff(live, diffConfigs(before, after), after);
    expect(log).toEqual(['remove a', 'add a', 'start a', 'order a', 'announce']);
  });
});

describe('Hub.batch', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('holds list changes made inside a batch and announces them once after it', async () => {
    const hub = new Hub(load({}), NO_UPSTREAM);
    const announced: string[][] = [];
    hub.onListsChanged = (kinds) => void announced.push(kinds);
    await hub.batch(async () => {
      for (const name of ['a', 'b']) {
        const child = hub.add(load({ [name]: entry() }).servers[0]!);
        child.catalog = { tools: [{ name: 't', inputSchema: { type: 'object' } }], prompts: [], resources: [], resourceTemplates: [] };
        hub.listsMayHaveChanged();
        await vi.advanceTimersByTimeAsync(100);
      }
      expect(hub.routing.tools.map((t) => t.name)).toEqual(['a__t', 'b__t']); // routed at once
      expect(announced).toEqual([]); // announced later
    });
    await vi.advanceTimersByTimeAsync(100);
    expect(announced).toEqual([['tools']]);
  });
});
