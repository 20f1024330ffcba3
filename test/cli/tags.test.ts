// Subsets of one config: --tags and --only on serve, tools, doctor and call (real processes), and the
// validation of the new per-server settings.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { mcpxSessions } from '../helpers/mcpx.js';
import { BIN, processesWith, sandbox, type Sandbox } from './run-helpers.js';

let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
  sb.config({
    alpha: sb.child('alpha', {}, { tags: ['docs'] }),
    beta: sb.child('beta', {}, { tags: ['work', 'docs'] }),
    gamma: sb.child('gamma', {}, { tags: ['work'] }),
    delta: sb.child('delta'),
  });
});
afterEach(async () => {
  expect(await processesWith(sb.marker)).toEqual([]);
  sb.cleanup();
});
const sessions = mcpxSessions(afterEach);

const serversOf = (stdout: string): string[] => [...new Set((JSON.parse(stdout) as { tools: { server: string }[] }).tools.map((t) => t.server))].sort();

// Each test runs several real mcpx processes (those of one test side by side where they can be): a loaded
// machine needs more than the default 30 s.
describe('--tags and --only', { timeout: 90_000 }, () => {
  it('tools: --tags keeps the servers with one of the tags, --only exactly the named ones', async () => {
    const [tagged, two, only, both] = await Promise.all([
      sb.mcpx(['tools', '--tags', 'docs', '--json']),
      sb.mcpx(['tools', '--tags', 'work,docs', '--json']),
      sb.mcpx(['tools', '--only', 'gamma, delta', '--json']),
      sb.mcpx(['tools', '--only', 'alpha,gamma', '--tags', 'work', '--json']),
    ]);
    expect(tagged.exitCode, tagged.stderr).toBe(0);
    expect(serversOf(tagged.stdout)).toEqual(['alpha', 'beta']);
    expect(serversOf(two.stdout)).toEqual(['alpha', 'beta', 'gamma']);
    expect(only.exitCode, only.stderr).toBe(0);
    expect(serversOf(only.stdout)).toEqual(['delta', 'gamma']);
    expect(serversOf(both.stdout)).toEqual(['gamma']); // both flags: the named servers that carry a tag
  });

  it('an unknown name or tag is a usage error (exit 2) naming it, before anything starts', async () => {
    const name = await sb.mcpx(['tools', '--only', 'alpha,zeta']);
    expect(name.exitCode).toBe(2);
    expect(name.stderr).toContain('--only: no server "zeta"');
    expect(name.stderr).toContain('the servers are: alpha, beta, gamma, delta');

    const tag = await sb.mcpx(['doctor', '--tags', 'nope']);
    expect(tag.exitCode).toBe(2);
    expect(tag.stderr).toContain('has the tag "nope"');

    const empty = await sb.mcpx(['call', 'alpha__echo', '--only', ',']);
    expect(empty.exitCode).toBe(2);
    expect(empty.stderr).toContain('--only: give at least one name');
  });

  it('doctor checks only the selected servers; call reaches only them', async () => {
    const r = await sb.mcpx(['doctor', '--only', 'beta', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { servers: { name: string }[] }).servers.map((s) => s.name)).toEqual(['beta']);

    const served = await sb.mcpx(['call', 'gamma__echo', '{"text":"hi"}', '--tags', 'work']);
    expect(served.exitCode, served.stderr).toBe(0);
    expect(served.stdout).toBe('gamma: hi');
    const outside = await sb.mcpx(['call', 'alpha__echo', '{}', '--tags', 'work']);
    expect(outside.exitCode).toBe(2);
    expect(outside.stderr).toContain('unknown tool "alpha__echo"');
  });

  it('serve --tags / --only lists and describes only those servers; an unknown name exits 2', async () => {
    const config = { mcpServers: { alpha: sb.child('alpha', {}, { tags: ['docs'] }), gamma: sb.child('gamma', {}, { tags: ['work'] }), delta: sb.child('delta') } };
    const served = async (args: string[]) => {
      const m = await sessions.start(config, { dir: sb.dir, args });
      const { tools } = await m.client.listTools();
      const described = ['alpha', 'gamma', 'delta'].filter((n) => m.client.getInstructions()!.includes(`\n${n} (tools`));
      await sessions.stop(m);
      return { prefixes: [...new Set(tools.map((t) => t.name.split('__')[0]))].sort(), described };
    };
    expect(await served(['--tags', 'docs'])).toEqual({ prefixes: ['alpha', 'mcpx'], described: ['alpha'] });
    expect(await served(['--only', 'gamma,delta'])).toEqual({ prefixes: ['delta', 'gamma', 'mcpx'], described: ['gamma', 'delta'] });

    const env = { MCPX_CACHE_DIR: join(sb.dir, 'cache'), MCPX_STATE_DIR: join(sb.dir, 'state'), MCPX_CONFIG: '' };
    const bad = await execa('node', [BIN, 'serve', '--config', join(sb.dir, 'mcpx.json'), '--only', 'zeta'], { reject: false, input: '', env });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--only: no server "zeta"');
    expect(bad.stdout).toBe(''); // stdout is the protocol
  });
});

describe('the new per-server settings are validated naming the field', () => {
  const invalid = async (config: unknown, field: string) => {
    writeFileSync(join(sb.dir, 'mcpx.json'), JSON.stringify(config));
    const r = await sb.mcpx(['tools']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(field);
  };
  it.each([
    [{ mcpServers: { a: { command: 'x', tags: 'docs' } } }, 'server "a", field "tags": must be a list of strings'],
    [{ mcpServers: { a: { command: 'x', tags: ['ok', 'not ok'] } } }, 'server "a", field "tags[1]": tag "not ok"'],
    [{ mcpServers: { a: { command: 'x', instructions: 5 } } }, 'server "a", field "instructions": must be a string'],
    [{ mcpServers: { a: { command: 'x', pinTools: 'yes' } } }, 'server "a", field "pinTools": must be true or false'],
    [{ defaults: { pinTools: 1 }, mcpServers: { a: { command: 'x' } } }, 'field "defaults.pinTools": must be true or false'],
  ])('%j', async (config, field) => invalid(config, field));
});
