// A secret from .env never leaves mcpx — not in stderr, logs, the database, the status
// resource, the audit trail or any command's output — and mcpx's files are private. Real processes.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHILD, MCPX, fixture, startMcpx, tempDir, text, waitFor, type Mcpx } from '../helpers/mcpx.js';
import { isRunning } from '../../src/util/proc.js';

const TOKEN = `tok-${randomUUID()}`;
/** A second secret, printed by a secret command (`${cmd:…}`) rather than read from .env. */
const CMD_TOKEN = `tok-cmd-${randomUUID()}`;
const SECRETS = [TOKEN, CMD_TOKEN];
let dir: string;
let m: Mcpx;
let statusText: string;
const outputs: { what: string; out: string }[] = [];

const env = () => ({ MCPX_CONFIG: '', NO_COLOR: '1', MCPX_STATE_DIR: join(dir, 'state'), MCPX_CACHE_DIR: join(dir, 'cache') });
const cli = (...args: string[]) => execa(process.execPath, [MCPX, ...args], { cwd: dir, reject: false, env: env() });

function filesUnder(root: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

beforeAll(async () => {
  dir = tempDir('mcpx-secrets-');
  writeFileSync(join(dir, '.env'), `SECRET_TOKEN=${TOKEN}\n`);
  writeFileSync(join(dir, 'vault.mjs'), `process.stdout.write(${JSON.stringify(CMD_TOKEN)})`);
  const config = {
    mcpServers: {
      alpha: fixture('alpha', { API_TOKEN: '${SECRET_TOKEN}' }, { args: [CHILD, '--token=${SECRET_TOKEN}'], cache: { ttl: '1h' } }),
      beta: fixture('beta', { API_TOKEN: '${SECRET_TOKEN}' }, { args: [CHILD, '--token=${SECRET_TOKEN}'] }),
      // A child that prints the token on stderr as it crashes at start (into its log, and mcpx's stderr with --debug).
      gamma: fixture('gamma', { NAME: '${SECRET_TOKEN}', CRASH_AT_START: '1' }),
      // The same with a value from a secret command.
      delta: fixture('delta', { NAME: `\${cmd:node ${join(dir, 'vault.mjs')}}`, CRASH_AT_START: '1' }),
      // A remote nobody answers: its url and header carry the token into every error about it.
      remote: { type: 'http', url: 'http://127.0.0.1:9/mcp?api_key=${SECRET_TOKEN}', headers: { Authorization: 'Bearer ${SECRET_TOKEN}' }, startupTimeoutMs: 2000 },
    },
  };
  m = await startMcpx(config, { dir, args: ['--debug'] });
  expect((await cli('trust')).exitCode).toBe(0); // the commands below find ./mcpx.json: a project config, used once trusted
  const c = m.client;
  await c.callTool({ name: 'alpha__echo', arguments: { text: 'hello' } }); // ok
  await c.callTool({ name: 'alpha__echo', arguments: { text: 'hello' } }); // hit
  await c.callTool({ name: 'alpha__search', arguments: { query: 'react' } }); // ok
  await c.callTool({ name: 'alpha__fail', arguments: {} }); // error (isError)
  await c.readResource({ uri: 'fixture://alpha/readme' }); // ok
  await c.readResource({ uri: 'fixture://alpha/readme' }); // hit
  await c.getPrompt({ name: 'alpha__greet', arguments: { who: 'bob' } }); // ok
  await c.callTool({ name: 'beta__crash', arguments: {} }); // child-down: beta exits mid-call
  statusText = String(((await c.readResource({ uri: 'mcpx://status' })).contents[0] as { text: string }).text);
  await m.close();
  await waitFor(() => !isRunning(m.pid), 8000, 'mcpx serve to exit');

  for (const args of [
    ['doctor'], ['doctor', '--json'], ['tools'], ['tools', '--json'], ['call', 'alpha__echo', '{"text":"cli"}'], ['call', 'beta__fail', '{}'],
    ['stats'], ['stats', '--json'], ['stats', '--prometheus'], ['audit'], ['audit', '--json', '--limit', '1000'], ['cache', 'stats'], ['cache', 'stats', '--json'],
    ['call', 'nope__x', '{}', '--debug'],
  ]) {
    const r = await cli(...args);
    outputs.push({ what: `mcpx ${args.join(' ')}`, out: `${r.stdout}\n${r.stderr}` });
  }
}, 120_000);

afterAll(async () => {
  if (m && isRunning(m.pid)) await m.close();
});

describe('never leak a secret', () => {
  it('the fixture really got the token: doctor masks it and shows ****', () => {
    const doctor = outputs.find((o) => o.what === 'mcpx doctor --json')!.out;
    expect(doctor).toContain('SECRET_TOKEN');
    expect(doctor).toContain('****');
  });

  it('a secret command ran: its output reached the child, and its log shows it masked', () => {
    const log = readFileSync(join(dir, 'state', 'logs', 'delta.log'), 'utf8');
    expect(log).toContain('****: crashing at start');
  });

  it("is not in mcpx serve's stderr (with --debug, children's stderr included)", () => {
    expect(m.stderr().length).toBeGreaterThan(0);
    for (const t of SECRETS) expect(m.stderr()).not.toContain(t);
    expect(m.stderr()).toContain('[gamma] ****: crashing at start'); // masked, not dropped
  });

  it('is not in any file under the state dir (mcpx.log, child logs)', () => {
    const files = filesUnder(join(dir, 'state'));
    expect(files.map((f) => f.slice(dir.length))).toEqual(expect.arrayContaining(['/state/mcpx.log', '/state/logs/alpha.log', '/state/logs/beta.log']));
    for (const f of files) for (const t of SECRETS) expect(readFileSync(f, 'utf8'), f).not.toContain(t);
    expect(readFileSync(join(dir, 'state/logs/gamma.log'), 'utf8')).toContain('****: crashing at start');
  });

  it('is not in the cache database file, nor its -wal', () => {
    const files = filesUnder(join(dir, 'cache'));
    expect(files.some((f) => f.endsWith('cache.db'))).toBe(true);
    for (const f of files) for (const t of SECRETS) expect(readFileSync(f).includes(Buffer.from(t)), f).toBe(false);
  });

  it('is not in the status resource', () => {
    expect(statusText).toContain('"alpha"');
    for (const t of SECRETS) expect(statusText).not.toContain(t);
  });

  it('is in no command output', () => {
    expect(outputs.length).toBe(14);
    for (const o of outputs) for (const t of SECRETS) expect(o.out, o.what).not.toContain(t);
  });

  it('the audit trail holds every call of the session, with outcomes hit, error and child-down', () => {
    const report = JSON.parse(outputs.find((o) => o.what.startsWith('mcpx audit --json'))!.out.split('\n\n')[0]!) as {
      records: { pid: number; server: string; kind: string; name: string; outcome: string; argsHash: string | null; resultBytes: number | null }[];
    };
    const mine = report.records.filter((r) => r.pid === m.pid).reverse(); // oldest first
    expect(mine.map((r) => `${r.server} ${r.kind} ${r.name} ${r.outcome}`)).toEqual([
      'alpha tool echo ok',
      'alpha tool echo hit',
      'alpha tool search ok',
      'alpha tool fail error',
      'alpha resource fixture://alpha/readme ok',
      'alpha resource fixture://alpha/readme hit',
      'alpha prompt greet ok',
      'beta tool crash child-down',
    ]);
    expect(mine.every((r) => /^[0-9a-f]{64}$/.test(r.argsHash ?? ''))).toBe(true);
    expect(mine[0]!.argsHash).toBe(mine[1]!.argsHash); // same args, same hash
    expect(mine[0]!.resultBytes).toBeGreaterThan(0);
    expect(mine[1]!.resultBytes).toBeGreaterThan(0); // a hit: the stored entry's size
    expect(mine[7]!.resultBytes).toBeGreaterThan(0); // mcpx's own answer: the server is unavailable
  });

  it('stats --prometheus is valid text exposition with the counters and the histogram', () => {
    const out = outputs.find((o) => o.what === 'mcpx stats --prometheus')!.out.split('\n\n')[0]!;
    const lines = out.split('\n').filter((l) => l !== '');
    for (const l of lines) {
      if (l.startsWith('#')) expect(l, l).toMatch(/^# (HELP|TYPE) [a-z_]+ /);
      else expect(l, l).toMatch(/^[a-z_]+(\{[^}]*\})? \d+(\.\d+)?$/);
    }
    expect(out).toContain('# TYPE mcpx_calls_total counter');
    expect(out).toContain('# TYPE mcpx_call_duration_ms histogram');
    expect(out).toMatch(/^mcpx_calls_total\{server="alpha"\} \d+$/m);
    expect(out).toMatch(/^mcpx_call_duration_ms_bucket\{server="alpha",le="\+Inf"\} \d+$/m);
    const count = Number(/^mcpx_call_duration_ms_count\{server="alpha"\} (\d+)$/m.exec(out)![1]);
    const inf = Number(/^mcpx_call_duration_ms_bucket\{server="alpha",le="\+Inf"\} (\d+)$/m.exec(out)![1]);
    expect(inf).toBe(count);
    expect(count).toBeGreaterThanOrEqual(5); // the session's non-hit calls
    // buckets are cumulative
    const buckets = [...out.matchAll(/^mcpx_call_duration_ms_bucket\{server="alpha",le="[^"]+"\} (\d+)$/gm)].map((x) => Number(x[1]));
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
  });

  it('files are 0600 in directories 0700: cache.db, mcpx.log, child logs', () => {
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    expect(mode(join(dir, 'cache'))).toBe('700');
    expect(mode(join(dir, 'cache', 'cache.db'))).toBe('600');
    for (const f of ['-wal', '-shm']) if (existsSync(join(dir, 'cache', `cache.db${f}`))) expect(mode(join(dir, 'cache', `cache.db${f}`))).toBe('600');
    expect(mode(join(dir, 'state'))).toBe('700');
    expect(mode(join(dir, 'state', 'mcpx.log'))).toBe('600');
    expect(mode(join(dir, 'state', 'logs'))).toBe('700');
    expect(mode(join(dir, 'state', 'logs', 'alpha.log'))).toBe('600');
    expect(mode(join(dir, 'state', 'logs', 'beta.log'))).toBe('600');
  });
});
