// mcpx ps / restart / reload against running `mcpx serve` processes: real processes, one
// shared state dir (where the control sockets are), exit codes 0 / 1 (none running) / 2 (bad usage).
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { MCPX, fixture, markedSessions, tempDir, waitFor, writeConfig } from '../helpers/mcpx.js';
import { isRunning } from '../../src/util/proc.js';
import type { InstanceInfo, PsResult } from '../../src/app/control.js';

const { sessions, mark } = markedSessions(afterEach);
const SLOW = 20_000;

function cli(state: string, cwd: string, ...args: string[]) {
  return execa(process.execPath, [MCPX, ...args], { cwd, reject: false, env: { ...process.env, MCPX_CONFIG: '', MCPX_STATE_DIR: state, NO_COLOR: '1' } });
}

async function ps(state: string, cwd: string): Promise<PsResult> {
  return JSON.parse((await cli(state, cwd, 'ps', '--json')).stdout) as PsResult;
}

const child = (i: InstanceInfo, name: string) => i.servers.find((s) => s.name === name);

describe('operating running instances from the shell', { timeout: 60_000 }, () => {
  it('ps lists two instances and their children; restart restarts one child in each; reload applies the file now', async () => {
    const dir = tempDir();
    const state = join(dir, 'shared-state');
    const servers = { a: fixture('a', {}, {}, mark()), b: fixture('b', {}, {}, mark()) };
    // --no-watch: edits apply only when `mcpx reload` says so, so that the reload below is what applies them.
    const opts = { dir, env: { MCPX_STATE_DIR: state }, args: ['--no-watch'] };
    const one = await sessions.start({ mcpServers: servers }, opts);
    const two = await sessions.start({ mcpServers: servers }, opts);
    const file = one.configFile;

    const first = await waitFor(async () => {
      const r = await ps(state, dir);
      return r.instances.length === 2 && r.instances.every((i) => i.servers.every((s) => s.state === 'ready')) && r;
    }, SLOW, 'both instances with their children ready');
    expect(first.instances.map((i) => i.pid)).toEqual([one.pid, two.pid].sort((x, y) => x - y));
    for (const i of first.instances) {
      expect(i.config).toBe(file);
      expect(i.uptimeMs).toBeGreaterThan(0);
      expect(i.servers.map((s) => s.name)).toEqual(['a', 'b']);
      expect(child(i, 'a')!.pid).toBeGreaterThan(0);
    }
    // The channel: one socket per process, this user only.
    const run = join(state, 'run');
    expect(statSync(run).mode & 0o777).toBe(0o700);
    expect(readdirSync(run).sort()).toEqual([`${one.pid}.sock`, `${two.pid}.sock`].sort());
    expect(statSync(join(run, `${one.pid}.sock`)).mode & 0o777).toBe(0o600);
    const human = await cli(state, dir, 'ps');
    expect(human.exitCode).toBe(0);
    expect(human.stdout).toMatch(new RegExp(`${one.pid}\\s+${file}\\s+\\S+ \\S+\\s+a ready \\(pid \\d+\\), b ready`));

    // restart a: a new process for a in both instances, b untouched.
    const restarted = await cli(state, dir, 'restart', 'a', '--config', file);
    expect(restarted.exitCode).toBe(0);
    expect(restarted.stdout).toMatch(new RegExp(`pid ${one.pid}: a ready \\(pid \\d+\\)`));
    expect(restarted.stdout).toMatch(new RegExp(`pid ${two.pid}: a ready \\(pid \\d+\\)`));
    const second = await ps(state, dir);
    for (const [i, before] of second.instances.map((x, k) => [x, first.instances[k]!] as const)) {
      expect(child(i, 'a')!.pid).not.toBe(child(before, 'a')!.pid);
      expect(child(i, 'b')!.pid).toBe(child(before, 'b')!.pid);
      expect(isRunning(child(before, 'a')!.pid!)).toBe(false);
    }

    const unknown = await cli(state, dir, 'restart', 'nope', '--config', file);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain(`unknown server "nope": the servers of ${file} are a, b`);

    // reload: the edit is not applied until asked (--no-watch), then in both instances.
    writeConfig({ mcpServers: { ...servers, c: fixture('c', {}, {}, mark()) } }, dir);
    expect((await ps(state, dir)).instances.every((i) => !child(i, 'c'))).toBe(true);
    const reloaded = await cli(state, dir, 'reload', '--config', file);
    expect(reloaded.exitCode).toBe(0);
    expect(reloaded.stdout).toBe(`pid ${first.instances[0]!.pid}: added c\npid ${first.instances[1]!.pid}: added c`); // execa strips the last newline
    const third = await ps(state, dir);
    for (const [i, before] of third.instances.map((x, k) => [x, second.instances[k]!] as const)) {
      expect(i.servers.map((s) => s.name)).toEqual(['a', 'b', 'c']);
      expect(child(i, 'b')!.pid).toBe(child(before, 'b')!.pid);
    }

    // An invalid file: reload says why (exit 2) and both keep serving what they had.
    writeFileSync(file, '{"mcpServers": ');
    const invalid = await cli(state, dir, 'reload', '--config', file);
    expect(invalid.exitCode).toBe(2);
    expect(invalid.stdout).toContain(`${file}: not valid JSON`);
    const fourth = await ps(state, dir);
    for (const i of fourth.instances) {
      expect(i.configError?.message).toContain(`${file}: not valid JSON`);
      expect(i.servers.map((s) => s.name)).toEqual(['a', 'b', 'c']);
    }

    // Another config: none of these instances is its.
    const other = await cli(state, dir, 'restart', 'a', '--config', join(dir, 'other.json'));
    expect(other.exitCode).toBe(1);
    expect(other.stderr).toContain(`no running mcpx serve uses ${join(dir, 'other.json')}`);

    await sessions.stop(one);
    await waitFor(() => !readdirSync(run).includes(`${one.pid}.sock`), SLOW, 'its socket removed when it stops');
    expect((await ps(state, dir)).instances.map((i) => i.pid)).toEqual([two.pid]);
  }, 120_000); // a dozen CLI runs and child starts

  it('doctor shows the config edit a running serve refused (from its status snapshot)', async () => {
    const dir = tempDir();
    const { openDatabase } = await import('../../src/cache/db.js');
    const db = openDatabase(join(dir, 'cache'));
    // This test process stands in for a running serve that refused an edit.
    const refused = `${join(dir, 'mcpx.json')}: server "b", field "timeoutMs": must be a duration`;
    db.db.prepare('INSERT INTO status (pid, data, updated_at) VALUES (?, ?, ?)')
      .run(process.pid, JSON.stringify({ config: { file: join(dir, 'mcpx.json'), error: { message: refused } }, servers: {} }), Date.now());
    db.close();
    writeConfig({ mcpServers: {} }, dir);
    const r = await execa(process.execPath, [MCPX, 'doctor', '--json'], { cwd: dir, reject: false, env: { ...process.env, MCPX_CONFIG: '', MCPX_CACHE_DIR: join(dir, 'cache'), MCPX_STATE_DIR: join(dir, 'state') } });
    const checks = (JSON.parse(r.stdout) as { instances: { checks: { verdict: string; message: string }[] } }).instances.checks;
    expect(checks).toContainEqual(expect.objectContaining({ verdict: 'warn', message: `serve pid ${process.pid} refused the last edit of its config: ${refused}` }));
  });

  it('exits 1 when no instance is running, and removes the socket of a process that is gone', async () => {
    const dir = tempDir();
    const state = join(dir, 'state');
    const file = writeConfig({ mcpServers: { a: fixture('a', {}, {}, mark()) } }, dir);
    mkdirSync(join(state, 'run'), { recursive: true });
    const stale = join(state, 'run', `${2 ** 22 + 1000}.sock`); // above any pid_max: never a live process
    writeFileSync(stale, '');

    const list = await cli(state, dir, 'ps', '--json');
    expect(list.exitCode).toBe(1);
    expect(JSON.parse(list.stdout).instances).toEqual([]);
    expect(list.stderr).toContain('no mcpx serve is running');
    expect(existsSync(stale)).toBe(false);

    for (const args of [['restart', 'a'], ['reload']]) {
      const r = await cli(state, dir, ...args, '--config', file);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`no running mcpx serve uses ${file}`);
    }
    expect((await cli(state, dir, 'restart')).exitCode).toBe(2); // no name: usage
  });
});
