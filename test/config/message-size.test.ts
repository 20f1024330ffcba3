// maxMessageBytes in mcpx.json: default, units, `defaults`, and errors naming the server and field.
import { describe, expect, it } from 'vitest';
import { normalizeConfig } from '../../src/config/normalize.js';

const child = { command: 'node', args: ['server.js'] };
const normalize = (raw: unknown) => normalizeConfig({ raw, file: '/p/mcpx.json', foundBy: 'flag', vars: {}, envFiles: [] }).config;
const limitOf = (raw: unknown, name = 'a') => normalize(raw).servers.find((s) => s.name === name)!.maxMessageBytes;

describe('maxMessageBytes', () => {
  it('is 32 MB by default, per server or from defaults, in bytes or with a unit', () => {
    expect(limitOf({ mcpServers: { a: child } })).toBe(32 * 1024 * 1024);
    expect(limitOf({ mcpServers: { a: { ...child, maxMessageBytes: '8MB' } } })).toBe(8 * 1024 * 1024);
    expect(limitOf({ mcpServers: { a: { ...child, maxMessageBytes: 4096 } } })).toBe(4096);
    expect(limitOf({ mcpServers: { a: { ...child, maxMessageBytes: '1.5 kb' } } })).toBe(1536);
    const both = { defaults: { maxMessageBytes: '64MB' }, mcpServers: { a: child, b: { ...child, maxMessageBytes: '2MB' } } };
    expect(limitOf(both, 'a')).toBe(64 * 1024 * 1024);
    expect(limitOf(both, 'b')).toBe(2 * 1024 * 1024);
  });

  it.each([['lots'], [-1], [100], ['1GB'], [1.5], [true]])('refuses %j, naming the file, the server and the field', (value) => {
    expect(() => normalize({ mcpServers: { a: { ...child, maxMessageBytes: value } } })).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID', exitCode: 2, server: 'a', field: 'maxMessageBytes',
        message: `/p/mcpx.json: server "a", field "maxMessageBytes": must be a size from 1 KB to 256 MB (bytes, or a string such as "512KB", "32MB"), got ${JSON.stringify(value)}`,
      }),
    );
  });
});
