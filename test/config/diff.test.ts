import { describe, expect, it } from 'vitest';
import { diffConfigs, isEmptyDiff } from '../../src/config/diff.js';
import { normalizeConfig } from '../../src/config/normalize.js';

const load = (raw: Record<string, unknown>, vars: Record<string, string> = {}) =>
  normalizeConfig({ raw, file: '/work/mcpx.json', foundBy: 'flag', vars, envFiles: [] }).config;
const entry = (extra: Record<string, unknown> = {}) => ({ command: 'node', args: ['server.js'], ...extra });

describe('diffConfigs', () => {
  it('finds nothing to do in the same file read twice', () => {
    const raw = { mcpServers: { a: entry({ errorPatterns: ['^Error'], env: { T: '${TOKEN}' } }) } };
    const d = diffConfigs(load(raw, { TOKEN: 'x' }), load(raw, { TOKEN: 'x' }));
    expect(d.unchanged).toEqual(['a']);
    expect(isEmptyDiff(d)).toBe(true);
  });

  it('restarts on what the child is or gets, updates in place for mcpx settings, and adds and removes', () => {
    const before = load({ mcpServers: { a: entry(), b: entry(), c: entry(), d: entry(), gone: entry() } });
    const after = load({
      mcpServers: {
        a: entry({ args: ['server.js', '--verbose'] }),
        b: entry({ env: { MODE: 'x' }, maxMessageBytes: 1024 }),
        c: entry({ timeoutMs: '5s', cache: { ttl: '2h' }, tools: { exclude: ['write'] } }),
        d: entry({ errorPatterns: ['^Error searching'] }), // a RegExp: JSON would see {} both times
        fresh: entry(),
      },
    });
    const d = diffConfigs(before, after);
    expect(d.restart).toEqual([{ name: 'a', fields: ['args'] }, { name: 'b', fields: ['env', 'maxMessageBytes'] }]);
    expect(d.update).toEqual([{ name: 'c', fields: ['cache', 'timeoutMs', 'tools'] }, { name: 'd', fields: ['errorPatterns'] }]);
    expect(d.added.map((s) => s.name)).toEqual(['fresh']);
    expect(d.removed).toEqual(['gone']);
    expect(d.global).toEqual([]);
  });

  it('counts a rotated token (from .env) and a variable that went missing as restarts, top-level settings apart', () => {
    const raw = { mcpServers: { a: entry({ headers: { Authorization: 'Bearer ${TOKEN}' }, type: 'http', url: 'https://x/mcp' }) } };
    expect(diffConfigs(load(raw, { TOKEN: 'old' }), load(raw, { TOKEN: 'new' })).restart).toEqual([{ name: 'a', fields: ['headers'] }]);
    expect(diffConfigs(load(raw, { TOKEN: 'old' }), load(raw, {})).restart).toEqual([{ name: 'a', fields: ['headers', 'problem'] }]);
    const d = diffConfigs(load({ mcpServers: {} }), load({ mcpServers: {}, cache: { maxMb: 10 } }));
    expect(d.global).toEqual(['cache']);
    expect(isEmptyDiff(d)).toBe(false);
  });
});
