import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processesWith, sandbox, type Sandbox } from './run-helpers.js';

let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
  sb.config({
    alpha: sb.child('alpha', {}, { cache: { ttl: '1h' } }),
    beta: sb.child('beta', {}, { cache: { enabled: false } }),
    gamma: sb.child('gamma', {}, { cache: { tools: { write: {}, echo: false } } }),
  });
});
afterEach(async () => {
  // No child outlives the command: tools and call stop the runtime whatever happens.
  expect(await processesWith(sb.marker)).toEqual([]);
  sb.cleanup();
});

interface Row { claudeName: string; name: string; server: string; tool: string; readOnly: boolean; cacheable: boolean; description: string }

describe('mcpx tools', () => {
  it('lists the tools as Claude Code names them, with server, read-only, cacheable and the first line of the description', async () => {
    const r = await sb.mcpx(['tools']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^mcp__mcpx__alpha__echo +alpha +yes +yes +Echo the text back \(alpha\)$/m);
    expect(r.stdout).not.toContain('Second line.');
    expect(r.stdout).toMatch(/^mcp__mcpx__beta__echo +beta +yes +no /m); // cache.enabled false
    expect(r.stdout).toMatch(/^mcp__mcpx__alpha__write +alpha +no +no /m); // not read-only
    expect(r.stdout).toContain(`${3 * 14} tools`);

    const j = await sb.mcpx(['tools', '--json']);
    expect(j.exitCode, j.stderr).toBe(0);
    const rows = (JSON.parse(j.stdout) as { tools: Row[] }).tools;
    const by = (n: string): Row => rows.find((t) => t.claudeName === n)!;
    expect(by('mcp__mcpx__alpha__echo')).toEqual({
      claudeName: 'mcp__mcpx__alpha__echo', name: 'alpha__echo', server: 'alpha', tool: 'echo',
      readOnly: true, cacheable: true, description: 'Echo the text back (alpha)',
    });
    expect(by('mcp__mcpx__gamma__write').cacheable).toBe(true); // listed in cache.tools
    expect(by('mcp__mcpx__gamma__echo').cacheable).toBe(false); // turned off per tool
    expect(by('mcp__mcpx__gamma__search').cacheable).toBe(false); // read-only, but its cache block asks only for `write`
  });

  it('--server lists one server; an unknown one exits 2', async () => {
    const r = await sb.mcpx(['tools', '--server', 'beta', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const rows = (JSON.parse(r.stdout) as { tools: Row[] }).tools;
    expect(new Set(rows.map((t) => t.server))).toEqual(new Set(['beta']));
    const bad = await sb.mcpx(['tools', '--server', 'zeta']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('no server "zeta"');
  });

  it('a server that cannot start: the others are listed, it is named on stderr, exit 1', async () => {
    sb.config({ alpha: sb.child('alpha'), delta: sb.child('delta', { CRASH_AT_START: '1' }) });
    const r = await sb.mcpx(['tools']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain('mcp__mcpx__alpha__echo');
    expect(r.stderr).toContain('delta is not listed: exited with code 3');
  });
});

describe('mcpx call', () => {
  it('alpha__echo prints the text content, exit 0; the full Claude Code name works too', async () => {
    const r = await sb.mcpx(['call', 'alpha__echo', '{"text":"hi"}']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toBe('alpha: hi'); // execa strips the final newline
    const full = await sb.mcpx(['call', 'mcp__mcpx__gamma__echo', '{"text":"yo"}']);
    expect(full.exitCode, full.stderr).toBe(0);
    expect(full.stdout).toBe('gamma: yo');
  });

  it('--json prints the raw result object', async () => {
    const r = await sb.mcpx(['call', 'alpha__echo', '{"text":"hi"}', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ content: [{ type: 'text', text: 'alpha: hi' }] });
  });

  it('a result with isError: the text is printed, exit 1', async () => {
    const r = await sb.mcpx(['call', 'alpha__fail']);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('alpha: the tool failed');
    expect(r.stderr).toContain('alpha__fail: the tool answered with isError');
  });

  it('an unknown tool exits 2 and lists near matches', async () => {
    const r = await sb.mcpx(['call', 'alpha__ecko', '{}']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('unknown tool "alpha__ecko"');
    expect(r.stderr).toMatch(/did you mean alpha__echo/);
    expect(r.stdout).toBe('');
  });

  it('bad JSON_ARGS exits 2 naming the problem, before any child starts', async () => {
    const bad = await sb.mcpx(['call', 'alpha__echo', '{text: hi}']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('JSON_ARGS is not valid JSON');
    const notObject = await sb.mcpx(['call', 'alpha__echo', '[1, 2]']);
    expect(notObject.exitCode).toBe(2);
    expect(notObject.stderr).toContain('JSON_ARGS must be a JSON object of arguments, got an array');
  });

  it('a tool of a server with a missing variable exits 2 naming the variable', async () => {
    sb.config({ alpha: sb.child('alpha'), beta: sb.child('beta', { TOKEN: '${MCPX_TEST_UNSET_VAR}' }) });
    const r = await sb.mcpx(['call', 'beta__echo', '{}']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('variable MCPX_TEST_UNSET_VAR is not set');
  });
});
