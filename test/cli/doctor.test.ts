import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, REPO, dist, processesWith, sandbox, type Sandbox } from './run-helpers.js';

let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
});
afterEach(async () => {
  // Every child doctor started is stopped before it exits.
  expect(await processesWith(sb.marker)).toEqual([]);
  sb.cleanup();
});

interface JsonReport {
  config: { ok: boolean; file?: string; foundBy?: string };
  variables: { server: string; name: string; state: string; length?: number; verdict: string }[];
  servers: { name: string; status: string; checks: { verdict: string; message: string }[]; counts?: { tools: number }; toolListBytes?: number; serverInfo?: { name: string }; cacheScope?: string; caching?: unknown }[];
  cache: { exists: boolean; entries?: number; integrity?: string; mode?: string; checks: { verdict: string; message: string }[] };
  instances: { snapshots: { pid: number; stale: boolean }[]; checks: { verdict: string; message: string }[] };
  summary: { healthy: number; degraded: number; failing: number; skipped: number };
  exitCode: number;
}

/** "  alpha  healthy  node …" lines of the text report → { alpha: 'healthy' } */
function textStatuses(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of stdout.matchAll(/^ {2}(\S+) {2}(healthy|degraded|failing|skipped)\b/gm)) out[m[1]!] = m[2]!;
  return out;
}

describe('mcpx doctor', () => {
  it('a healthy config: every check passes, exit 0, facts about the child', async () => {
    sb.config({ alpha: sb.child('alpha') });
    const r = await sb.mcpx(['doctor']);
    expect(r.exitCode, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain(`${join(sb.dir, 'mcpx.json')} (found in the current directory)`);
    expect(textStatuses(r.stdout)).toEqual({ alpha: 'healthy' });
    expect(r.stdout).toMatch(/PASS {2}command node → \//);
    expect(r.stdout).toMatch(/alpha 1\.2\.3, protocol \d{4}-\d\d-\d\d: initialized after \d+ ms/);
    expect(r.stdout).toContain('14 tools, 1 prompt, 2 resources, 1 resource template');
    expect(r.stdout).toContain('not created yet');
    expect(r.stdout).toContain('none running');
    expect(r.stdout).toContain('1 healthy, 0 degraded, 0 failing');
    expect(r.stdout).not.toMatch(/FAIL|WARN/);
  });

  it("warns when Context7 caches without errorPatterns (its failures come as plain answers and would be cached), naming the template's", async () => {
    // The fixture stands in for Context7: doctor knows the server by what it runs, as import does.
    const c7 = (extra: Record<string, unknown>) => ({ ...sb.child('c7'), args: [...(sb.child('c7').args as string[]), '@upstash/context7-mcp'], ...extra });
    sb.config({ bare: c7({ cache: { ttl: '2h' } }), marked: c7({ cache: { ttl: '2h' }, errorPatterns: ['^Error searching libraries: '] }), uncached: c7({}), alpha: { ...sb.child('alpha'), cache: { ttl: '1h' } } });
    const r = await sb.mcpx(['doctor', '--json']);
    const report = JSON.parse(r.stdout) as JsonReport;
    const warns = Object.fromEntries(report.servers.map((s) => [s.name, s.checks.filter((c) => c.verdict === 'warn').map((c) => c.message)]));
    expect(warns.bare).toEqual(['caches its answers but has no "errorPatterns": context7 tells a failed lookup as a plain answer, which would be cached as the answer']);
    expect({ marked: warns.marked, uncached: warns.uncached, alpha: warns.alpha }).toEqual({ marked: [], uncached: [], alpha: [] });
    const text = await sb.mcpx(['doctor']);
    expect(text.stdout).toContain('hint: add the errorPatterns of mcpx\'s context7 template: "errorPatterns": ["^Error searching libraries: "');
    expect(text.exitCode).toBe(1);
  });

  it('says per server whose its cached entries are: shared by everyone, or per credential', async () => {
    sb.config({ alpha: sb.child('alpha'), docs: { ...sb.child('docs'), cache: { scope: 'public' } } });
    const r = await sb.mcpx(['doctor', '--json']);
    const report = JSON.parse(r.stdout) as JsonReport;
    expect(Object.fromEntries(report.servers.map((s) => [s.name, s.cacheScope]))).toEqual({ alpha: 'credential', docs: 'public' });
    const line = (name: string) => report.servers.find((s) => s.name === name)!.checks.find((c) => c.message.startsWith('cached entries'))!;
    expect(line('alpha')).toEqual({ verdict: 'info', message: 'cached entries are per credential: shared only by callers whose credentials (its env, the credential variables it inherits) are identical' });
    expect(line('docs').message).toBe('cached entries are shared by everyone on this cache ("scope": "public"): its answers must not depend on who asks');
    const text = await sb.mcpx(['doctor']);
    expect(text.stdout).toMatch(/NOTE {2}cached entries are shared by everyone on this cache/);
  });

  it('says per server whether and how long it caches: nothing unless the config asks (text and --json)', async () => {
    sb.config({
      alpha: sb.child('alpha'),
      docs: sb.child('docs', {}, { cache: { ttl: '2h', tools: { write: { ttl: '10m' }, echo: false } } }),
      some: sb.child('some', {}, { cache: { tools: { search: { ttl: '5m' } } } }),
      off: sb.child('off', {}, { cache: { enabled: false } }),
    });
    const r = await sb.mcpx(['doctor', '--json']);
    const report = JSON.parse(r.stdout) as JsonReport;
    const caching = Object.fromEntries(report.servers.map((s) => [s.name, s.caching]));
    expect(caching.alpha).toEqual({ enabled: true, readOnly: false, ttlMs: 3_600_000, staleTtlMs: 86_400_000, tools: {} });
    expect(caching.docs).toEqual({ enabled: true, readOnly: true, ttlMs: 7_200_000, staleTtlMs: 86_400_000, tools: { write: { ttlMs: 600_000, staleTtlMs: 86_400_000 }, echo: false } });
    expect(caching.off).toMatchObject({ enabled: false, readOnly: false });
    const line = (name: string) => report.servers.find((s) => s.name === name)!.checks.find((c) => c.message.startsWith('caches'))!;
    expect(line('alpha')).toEqual({ verdict: 'info', message: 'caches nothing: no "cache": {"ttl": …} for it or in "defaults" (caching is opt-in; a 2026-07-28 server\'s own ttlMs still counts)' });
    expect(line('docs').message).toBe('caches read-only tools and resources for 2 h (then 1 d more as a stale fallback); also write (10 min); never echo');
    expect(line('some').message).toBe('caches only search (5 min): read-only tools are cached only when "cache" sets "ttl" (a 2026-07-28 server\'s own ttlMs still counts)');
    expect(line('off').message).toBe('caches nothing ("cache": {"enabled": false})');
    const text = await sb.mcpx(['doctor']);
    expect(text.stdout).toMatch(/NOTE {2}caches read-only tools and resources for 2 h/);
  });

  it('a missing variable: exit 1, server and variable named, the server not started', async () => {
    sb.config({ alpha: sb.child('alpha'), beta: sb.child('beta', { TOKEN: '${MCPX_TEST_UNSET_VAR}' }) });
    const r = await sb.mcpx(['doctor']);
    expect(r.exitCode).toBe(1);
    expect(textStatuses(r.stdout)).toEqual({ alpha: 'healthy', beta: 'failing' });
    expect(r.stdout).toContain('beta: MCPX_TEST_UNSET_VAR NOT SET, and no default');
    expect(r.stdout).toContain('server "beta": variable MCPX_TEST_UNSET_VAR is not set (used in env.TOKEN)');
    expect(r.stderr).toContain('beta failing');
  });

  it('a command not on PATH: exit 1, the command and the server named', async () => {
    sb.config({ gamma: { command: 'mcpx-test-no-such-command', args: [] } });
    const r = await sb.mcpx(['doctor']);
    expect(r.exitCode).toBe(1);
    expect(textStatuses(r.stdout)).toEqual({ gamma: 'failing' });
    expect(r.stdout).toContain('FAIL  command "mcpx-test-no-such-command" is not on PATH');
  });

  it('a child that crashes at start: exit 1, the server named with its exit code and stderr', async () => {
    sb.config({ alpha: sb.child('alpha'), delta: sb.child('delta', { CRASH_AT_START: '1' }) });
    const r = await sb.mcpx(['doctor']);
    expect(r.exitCode).toBe(1);
    expect(textStatuses(r.stdout)).toEqual({ alpha: 'healthy', delta: 'failing' });
    expect(r.stdout).toContain('could not start: exited with code 3 during start-up');
    expect(r.stdout).toContain('delta: crashing at start as asked');
    // Started twice (it exited on the era probe, so it is tried as a 2025-era server): its words once.
    expect(r.stdout).not.toContain('delta: crashing at start as asked | delta: crashing at start as asked');
    expect(r.stdout).toContain('1 healthy, 0 degraded, 1 failing');
  });

  it('--json is one document whose verdicts match the text run; junk stdout, collisions and disabled servers', async () => {
    sb.config({
      alpha: sb.child('alpha'),
      noisy: sb.child('noisy', { GARBAGE_STDOUT: '1' }),
      twin: sb.child('twin', {}, { prefix: 'alpha', tools: { include: ['echo', 'search'] } }),
      delta: sb.child('delta', { CRASH_AT_START: '1' }),
      off: sb.child('off', {}, { disabled: true }),
    });
    const text = await sb.mcpx(['doctor']);
    const json = await sb.mcpx(['doctor', '--json']);
    expect(json.exitCode).toBe(1);
    expect(text.exitCode).toBe(1);
    const report = JSON.parse(json.stdout) as JsonReport;
    const fromJson = Object.fromEntries(report.servers.map((s) => [s.name, s.status]));
    expect(fromJson).toEqual({ alpha: 'healthy', noisy: 'degraded', twin: 'degraded', delta: 'failing', off: 'skipped' });
    expect(textStatuses(text.stdout)).toEqual(fromJson);
    expect(report.summary).toEqual({ healthy: 1, degraded: 2, failing: 1, skipped: 1 });
    expect(text.stdout).toContain('1 healthy, 2 degraded, 1 failing, 1 skipped');
    const byName = Object.fromEntries(report.servers.map((s) => [s.name, s]));
    expect(byName.alpha!.counts!.tools).toBe(14);
    expect(byName.alpha!.toolListBytes).toBeGreaterThan(500);
    expect(byName.alpha!.serverInfo!.name).toBe('alpha');
    expect(byName.noisy!.checks.find((c) => c.verdict === 'warn')!.message).toContain('not JSON-RPC');
    expect(byName.twin!.checks.find((c) => c.verdict === 'warn')!.message).toMatch(/2 tool names also offered by alpha, renamed: echo → mcp__mcpx__alpha__echo_[0-9a-f]{4}/);
    expect(report.exitCode).toBe(1);
    expect(json.stdout.trim().startsWith('{')).toBe(true);
    expect(json.stdout).not.toContain('\u001b['); // no colours, no spinner
  });

  it('warns about a tool name over 64 characters as Claude Code sees it', async () => {
    sb.config({ long: sb.child('long', {}, { prefix: 'a_really_long_prefix_that_nobody_should_use_here' }) });
    const r = await sb.mcpx(['doctor', '--json']);
    const report = JSON.parse(r.stdout) as JsonReport;
    expect(report.servers[0]!.status).toBe('degraded');
    expect(report.servers[0]!.checks.map((c) => c.message).join('\n')).toMatch(/12 tool names over 64 characters as mcp__mcpx__…, shortened: echo → mcp__mcpx__a_really_long_prefix_\w+__[0-9a-f]{8}/);
    const renamed = (report.servers[0] as unknown as { renamed: { tool: string; claudeName: string; why: string }[] }).renamed;
    expect(renamed).toHaveLength(12);
    for (const r of renamed) expect(r.claudeName.length).toBeLessThanOrEqual(64);
  });

  it('a config that is not valid JSON: exit 2, the file named, one line and a hint', async () => {
    writeFileSync(join(sb.dir, 'mcpx.json'), '{"mcpServers": {,}}');
    sb.trust();
    const r = await sb.mcpx(['doctor']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${join(sb.dir, 'mcpx.json')}: not valid JSON`);
    expect(r.stderr).toContain('hint:');
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const j = await sb.mcpx(['doctor', '--json']);
    expect(j.exitCode).toBe(2);
    expect(JSON.parse(j.stdout)).toMatchObject({ config: { ok: false, error: { code: 'CONFIG_PARSE' } }, exitCode: 2 });
  });

  it('an invalid field: exit 2 naming server and field; --server limits the check; an unknown --server exits 2', async () => {
    sb.config({ alpha: sb.child('alpha', {}, { timeoutMs: 'soon' }) });
    const bad = await sb.mcpx(['doctor']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('server "alpha", field "timeoutMs"');

    sb.config({ alpha: sb.child('alpha'), gamma: { command: 'mcpx-test-no-such-command' } });
    const one = await sb.mcpx(['doctor', '--server', 'alpha']);
    expect(one.exitCode, one.stdout).toBe(0);
    expect(textStatuses(one.stdout)).toEqual({ alpha: 'healthy' });
    const unknown = await sb.mcpx(['doctor', '--server', 'zeta']);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('no server "zeta"');
    expect(unknown.stderr).toContain('alpha, gamma');
  });

  it('--timeout bounds a child that never answers initialize', async () => {
    sb.config({ hang: sb.child('hang', { HANG_INIT: '1' }) });
    const r = await sb.mcpx(['doctor', '--timeout', '1s']);
    expect(r.exitCode).toBe(1); // it returns at all: the hanging child did not hold doctor (its message names the 1 s bound)
    expect(r.stdout).toMatch(/hang {2}failing/);
    expect(r.stdout).toMatch(/no answer to initialize within 1000 ms|no answer within 1 s/);
  });

  it('reads the cache database read-only (entries, integrity, mode) and the serve status snapshots', async () => {
    const { openDatabase } = await dist<typeof import('../../src/cache/db.js')>('cache/db.js');
    const cdb = openDatabase(join(sb.dir, 'cache'));
    const insert = cdb.db.prepare('INSERT INTO status (pid, data, updated_at) VALUES (?, ?, ?)');
    // This test process stands in for a running serve; pid 999999 for one that is gone.
    insert.run(process.pid, JSON.stringify({ servers: [{ name: 'alpha', state: 'ready', breaker: 'open', restarts: 2, lastError: 'alpha: boom' }] }), Date.now());
    insert.run(999_999, JSON.stringify({ servers: [] }), Date.now() - 3_600_000);
    cdb.close();
    sb.config({ alpha: sb.child('alpha') });
    const r = await sb.mcpx(['doctor', '--json']);
    const report = JSON.parse(r.stdout) as JsonReport;
    expect(report.cache).toMatchObject({ exists: true, entries: 0, integrity: 'ok', mode: '0600' });
    expect(report.instances.snapshots.map((s) => [s.pid, s.stale])).toEqual([[process.pid, false], [999_999, true]]);
    expect(report.instances.checks[0]).toMatchObject({ verdict: 'warn' });
    expect(report.instances.checks[0]!.message).toContain(`serve pid ${process.pid}`);
    expect(report.instances.checks[0]!.message).toContain('alpha ready breaker open 2 restarts');
    // The servers are healthy: a warning about a running instance does not fail doctor.
    expect(r.exitCode).toBe(0);
  });

  it('init --with standards in an empty dir, then doctor: "mcpx" not on PATH fails clearly; with it on PATH, healthy', async () => {
    const init = await sb.mcpx(['init', '--with', 'standards']);
    expect(init.exitCode, init.stderr).toBe(0);

    const without = await sb.mcpx(['doctor'], { PATH: '/usr/bin:/bin' });
    expect(without.exitCode).toBe(1);
    expect(without.stdout).toContain('FAIL  command "mcpx" is not on PATH');

    // The template runs `mcpx` from PATH: a bin dir with `mcpx` → the repo's bin/mcpx.js, and the sample standards.
    const bin = join(sb.dir, 'bin');
    mkdirSync(bin);
    symlinkSync(BIN, join(bin, 'mcpx'));
    mkdirSync(join(sb.dir, 'docs'));
    cpSync(join(REPO, 'templates/standards'), join(sb.dir, 'docs/standards'), { recursive: true });
    const withIt = await sb.mcpx(['doctor', '--json'], { PATH: `${bin}:${process.env.PATH}` });
    const report = JSON.parse(withIt.stdout) as JsonReport;
    expect(report.servers.map((s) => [s.name, s.status]), withIt.stdout).toEqual([['standards', 'healthy']]);
    expect(withIt.exitCode).toBe(0);
  });
});

describe('secrets', () => {
  it('a value from .env never appears in the output of doctor, tools, call or stats', async () => {
    const secret = `tok-${sb.marker}-s3cr3t`;
    writeFileSync(join(sb.dir, '.env'), `SECRET_TOKEN=${secret}\n`);
    sb.config({
      alpha: sb.child('alpha', { API_TOKEN: '${SECRET_TOKEN}' }),
      // The secret also sits in an argument, where doctor shows the command line.
      beta: { ...sb.child('beta', { API_TOKEN: '${SECRET_TOKEN}' }), args: [join(REPO, 'test/fixtures/child.mjs'), sb.marker, '--token=${SECRET_TOKEN}'] },
      broken: sb.child('broken', { API_TOKEN: '${SECRET_TOKEN}', CRASH_AT_START: '1' }),
    });
    const runs: Awaited<ReturnType<typeof sb.mcpx>>[] = await Promise.all([
      sb.mcpx(['doctor']),
      sb.mcpx(['doctor', '--json']),
      sb.mcpx(['tools']),
      sb.mcpx(['tools', '--json']),
    ]);
    runs.push(await sb.mcpx(['call', 'alpha__echo', '{"text":"hi"}']));
    runs.push(await sb.mcpx(['call', 'alpha__echo', '{"text":"hi"}', '--json']));
    runs.push(await sb.mcpx(['stats']));
    runs.push(await sb.mcpx(['stats', '--json']));
    for (const r of runs) {
      expect(r.stdout + r.stderr, r.command).not.toContain(secret);
    }
    const doctorJson = JSON.parse(runs[1]!.stdout) as JsonReport;
    expect(doctorJson.variables.find((v) => v.server === 'alpha')).toEqual({ server: 'alpha', name: 'SECRET_TOKEN', state: 'set', length: secret.length, verdict: 'pass' });
    expect(runs[0]!.stdout).toContain(`alpha: SECRET_TOKEN set (****, ${secret.length} chars)`);
    expect(runs[0]!.stdout).toContain('--token=****');
    expect(runs[4]!.stdout).toBe('alpha: hi'); // execa strips the final newline
  }, 90_000); // eight CLI runs, four at once, each starting three children: 12 s alone, over 30 s beside other test files on two cores
});
