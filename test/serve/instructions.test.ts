// mcpx's merged instructions: the pure merging (fair shortening within Claude Code's 2,048 characters),
// then a real serve whose initialize answer carries them from the stored catalog.
import { afterEach, describe, expect, it } from 'vitest';
import { fairCap, MAX_INSTRUCTIONS, mergeInstructions, SHORTENED } from '../../src/server/instructions.js';
import { fixture, marker, mcpxSessions, processesWith, tempDir, waitFor } from '../helpers/mcpx.js';

describe('mergeInstructions', () => {
  it('keeps everything when it fits: one line about mcpx, then each child with its prefix and text', () => {
    const text = mergeInstructions([
      { name: 'context7', prefix: 'context7', text: 'Library docs.' },
      { name: 'standards', prefix: '', text: 'House rules.' },
      { name: 'quiet', prefix: 'q' },
    ]);
    expect(text.split('\n')[0]).toMatch(/^mcpx serves the tools of 3 MCP servers/);
    expect(text).toContain('\n\ncontext7 (tools context7__*):\nLibrary docs.');
    expect(text).toContain('\n\nstandards (tools unprefixed):\nHouse rules.');
    expect(text).toMatch(/\n\nquiet \(tools q__\*\)$/);
    expect(text).not.toContain(SHORTENED);
  });

  it('shortens only the longest texts, to one common cap, each marked, within the limit', () => {
    const parts = [
      { name: 'big', prefix: 'big', text: 'B'.repeat(10_000) },
      { name: 'mid', prefix: 'mid', text: 'M'.repeat(1_500) },
      { name: 'small', prefix: 'small', text: 'short and kept' },
    ];
    const text = mergeInstructions(parts);
    expect(text.length).toBeLessThanOrEqual(MAX_INSTRUCTIONS);
    expect(text.length).toBeGreaterThan(MAX_INSTRUCTIONS - 10); // the budget is used, not wasted
    expect(text).toContain('short and kept');
    const big = /big \(tools big__\*\):\n(B*)…\[shortened/.exec(text)![1]!;
    const mid = /mid \(tools mid__\*\):\n(M*)…\[shortened/.exec(text)![1]!;
    expect(big.length).toBe(mid.length); // fair: the same cap for both
    expect(text.split(SHORTENED).length - 1).toBe(2);
  });

  it('a text just over the cap is kept whole when cutting it would save nothing', () => {
    expect(fairCap([100, 50], 150, 40)).toBe(Infinity);
    expect(fairCap([300, 50], 200, 40)).toBe(110); // 110 + 40 + 50 = 200
    expect(fairCap([300, 145], 200, 40)).toBe(60); // both cut: (60 + 40) * 2
    expect(fairCap([300, 90], 200, 40)).toBe(70); // (70 + 40) + 90 whole = 200
    expect(fairCap([100, 100], 30, 40)).toBeUndefined(); // not even the markers fit
  });

  it('with more servers than 2,048 characters hold, names what fits and says so', () => {
    const parts = Array.from({ length: 120 }, (_, i) => ({ name: `server-number-${i}`, prefix: `s${i}`, text: 'x'.repeat(50) }));
    const text = mergeInstructions(parts);
    expect(text.length).toBeLessThanOrEqual(MAX_INSTRUCTIONS);
    expect(text.endsWith(SHORTENED)).toBe(true);
  });

  it('never splits a surrogate pair when cutting', () => {
    const text = mergeInstructions([{ name: 'emoji', prefix: 'e', text: '😀'.repeat(3000) }]);
    expect(text.length).toBeLessThanOrEqual(MAX_INSTRUCTIONS);
    expect(text).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
  });
});

const sessions = mcpxSessions(afterEach);

describe('mcpx serve: instructions in the initialize answer', () => {
  it('merges every child from the stored catalog (a 10 kB text shortened), the config replacing one; full texts in mcpx://status', async () => {
    const mark = marker();
    const dir = tempDir();
    const huge = 'Use wiki for internal pages and runbooks. '.repeat(250); // ~10.5 kB
    // Each child with args of its own.
    const child = (name: string, env: Record<string, string>, extra: Record<string, unknown> = {}) => {
      const f = fixture(name, env, extra, mark);
      return { ...f, args: [...f.args, name] };
    };
    const config = {
      mcpServers: {
        wiki: child('wiki', { INSTRUCTIONS: huge }),
        docs: child('docs', { INSTRUCTIONS: 'Look up library documentation here.' }, { prefix: 'd' }),
        plain: child('plain', { INSTRUCTIONS: 'The child says this.' }, { instructions: 'The config says this instead.' }),
        silent: child('silent', {}),
      },
    };
    // First start: nothing stored yet, so only the config's text and the names; the children's texts get stored.
    const first = await sessions.start(config, { dir });
    const early = first.client.getInstructions()!;
    expect(early).toContain('plain (tools plain__*):\nThe config says this instead.');
    expect(early).not.toContain('Look up library documentation');
    await first.client.listTools(); // answered once the children have started (and their catalogs are stored)
    await sessions.stop(first);

    const second = await sessions.start(config, { dir });
    const text = second.client.getInstructions()!;
    expect(text.length).toBeLessThanOrEqual(2048);
    for (const name of ['wiki (tools wiki__*)', 'docs (tools d__*)', 'plain (tools plain__*)', 'silent (tools silent__*)']) expect(text).toContain(name);
    expect(text).toContain('docs (tools d__*):\nLook up library documentation here.');
    expect(text).toContain('The config says this instead.');
    expect(text).not.toContain('The child says this.');
    expect(text).toContain('Use wiki for internal pages');
    expect(text).toContain(SHORTENED);

    await second.client.listTools(); // the runtime has loaded the stored catalogs
    const status = await second.client.readResource({ uri: 'mcpx://status' });
    const servers = JSON.parse((status.contents[0] as { text: string }).text).servers;
    expect(servers.wiki.instructions.source).toBe('server');
    expect(servers.wiki.instructions.text.length).toBe(huge.trim().length); // in full
    expect(servers.wiki.instructions.text === huge.trim()).toBe(true);
    expect(servers.plain.instructions).toEqual({ text: 'The config says this instead.', source: 'config' });
    expect(servers.docs.prefix).toBe('d');
    await sessions.stop(second);
    await waitFor(() => processesWith(mark).length === 0, 5000, 'children to be gone');
  });
});
