// Issue 11, section 4: nothing runs that the user did not trust. Real processes: `mcpx serve` started
// by a client in a project folder (no --config), the `mcpx trust` CLI, the fixture child.
import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { CHILD, MCPX, fixture, mcpxSessions, processesWith, tempDir, text, waitFor, writeConfig, type Mcpx } from '../helpers/mcpx.js';

const sessions = mcpxSessions(afterEach);

/** A project folder whose mcpx.json would create two marker files: one by its child, one by a `${sh:}` secret. */
function project() {
  const dir = tempDir('mcpx-trust-');
  const markers = { child: join(dir, 'child-ran'), sh: join(dir, 'sh-ran') };
  // The child writes its marker, then serves as the fixture child does.
  writeFileSync(join(dir, 'marking-child.mjs'), `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(markers.child)}, 'x');\nawait import(${JSON.stringify(CHILD)});\n`);
  const config = {
    mcpServers: {
      proj: { command: process.execPath, args: [join(dir, 'marking-child.mjs')], env: { NAME: 'proj', TOKEN: `\${sh:touch ${markers.sh} && echo tok}` } },
    },
  };
  const env = { MCPX_CONFIG: '', XDG_CONFIG_HOME: join(dir, 'xdg'), MCPX_STATE_DIR: join(dir, 'state'), MCPX_CACHE_DIR: join(dir, 'cache') };
  const cli = (...args: string[]) => execa(process.execPath, [MCPX, ...args], { cwd: dir, reject: false, env: { ...env, NO_COLOR: '1' } });
  const file = writeConfig(config, dir);
  // `mcpx serve` in the folder, as Claude Code starts it: it finds ./mcpx.json itself, as the test left it.
  const serve = () => sessions.start(undefined, { dir, discover: true, env });
  return { dir, markers, env, cli, serve, file };
}

const toolNames = async (m: Mcpx) => (await m.client.listTools()).tools.map((t) => t.name).sort();
const status = async (m: Mcpx) => JSON.parse(String(((await m.client.readResource({ uri: 'mcpx://status' })).contents[0] as { text: string }).text));

describe('a project config runs only once trusted (issue 11)', () => {
  it('untrusted: initialize is answered, no child and no ${sh:} runs; stderr, status and doctor name the file and `mcpx trust`', async () => {
    const p = project();
    const m = await p.serve();
    expect(await toolNames(m)).toEqual(['mcpx__more', 'mcpx__status']);
    const s = await status(m); // answered once the (empty) runtime is up: nothing from the file is in it
    expect(s.servers).toEqual({});
    expect(s.health).toBe('degraded');
    expect(s.waitingForTrust).toMatchObject({ file: p.file, state: 'unknown', command: `mcpx trust ${p.file}` });
    await waitFor(() => m.stderr().includes('mcpx trust'), 5000, 'the trust message on stderr');
    expect(m.stderr()).toContain(`${p.file} is not trusted yet: nothing in it runs (no servers are started). Read it, then run: mcpx trust ${p.file}`);
    await sessions.stop(m);

    const doctor = await p.cli('doctor');
    expect(doctor.exitCode).toBe(1);
    expect(doctor.stdout).toContain(`FAIL  ${p.file} is not trusted yet`);
    expect(doctor.stderr).toContain(`mcpx trust ${p.file}`);
    expect(existsSync(p.markers.child)).toBe(false);
    expect(existsSync(p.markers.sh)).toBe(false);
  }, 90_000);

  it('after `mcpx trust` the child and its ${sh:} run; an edit makes the file wait again; `mcpx untrust` forgets it', async () => {
    const p = project();
    const trust = await p.cli('trust');
    expect(trust.exitCode).toBe(0);
    expect(trust.stdout).toContain(`trusted ${p.file} (sha256 `);
    expect(trust.stdout).toContain(`proj: ${process.execPath} ${join(p.dir, 'marking-child.mjs')}`);

    const trusted = await p.serve();
    expect(await toolNames(trusted)).toContain('proj__echo');
    expect(text(await trusted.client.callTool({ name: 'proj__echo', arguments: { text: 'hi' } }))).toBe('proj: hi');
    expect(existsSync(p.markers.child)).toBe(true);
    expect(existsSync(p.markers.sh)).toBe(true);
    expect((await status(trusted)).waitingForTrust).toBeUndefined();
    await sessions.stop(trusted);
    await waitFor(() => processesWith(join(p.dir, 'marking-child.mjs')).length === 0, 5000, 'the child to be stopped');

    // Any edit: trusted no more.
    appendFileSync(p.file, '\n');
    const list = await p.cli('trust', '--list', '--json');
    expect(JSON.parse(list.stdout).files).toEqual([expect.objectContaining({ file: p.file, state: 'changed' })]);
    const edited = await p.serve();
    expect(await toolNames(edited)).toEqual(['mcpx__more', 'mcpx__status']);
    expect((await status(edited)).waitingForTrust).toMatchObject({ file: p.file, state: 'changed' });
    await waitFor(() => edited.stderr().includes('has changed since it was trusted'), 5000, 'the changed-file message');

    expect((await p.cli('untrust')).exitCode).toBe(0);
    expect(JSON.parse((await p.cli('trust', '--list', '--json')).stdout).files).toEqual([]);
  }, 90_000);

  it("while the project waits, the user's own config is served, and the project's .env is not read", async () => {
    const p = project();
    const userDir = join(p.dir, 'xdg', 'mcpx');
    mkdirSync(userDir, { recursive: true });
    writeFileSync(join(userDir, 'mcpx.json'), JSON.stringify({ mcpServers: { home: fixture('home', { FROM_DOTENV: '${PROJECT_VALUE:-unset}' }) } }));
    writeFileSync(join(p.dir, '.env'), 'PROJECT_VALUE=from-the-project\n');
    const m = await p.serve();
    const names = await toolNames(m);
    expect(names).toContain('home__echo');
    expect(names.filter((n) => n.startsWith('proj__'))).toEqual([]);
    const hash = text(await m.client.callTool({ name: 'home__env_hash', arguments: { name: 'FROM_DOTENV' } }));
    expect(hash).toBe(sha256('unset'));
    expect(m.stderr()).toContain(`serving ${join(userDir, 'mcpx.json')} meanwhile`);
    expect(existsSync(p.markers.child)).toBe(false);
    expect(existsSync(p.markers.sh)).toBe(false);
  }, 60_000);
});

describe('values are data, substitution is literal (issue 11)', () => {
  it('a secret with $$, $& and $\' from .env and from ${cmd:} reaches the child byte for byte, masked everywhere; ${sh:} inside a .env value stays text', async () => {
    const dir = tempDir('mcpx-literal-');
    const id = randomUUID().slice(0, 8);
    const DOTENV_SECRET = `tok$$a$&b$'c$\`d-${id}`;
    const CMD_SECRET = `cmd$$a$&b$'c$\`d-${id}`;
    const injectedMarker = join(dir, 'injected-ran');
    const INJECTED = `\${sh:touch ${injectedMarker} && echo pwned} \${cmd:touch ${injectedMarker}} \${HOME}`;
    writeFileSync(join(dir, '.env'), `SECRET_TOKEN="${DOTENV_SECRET}"\nINJECTED="${INJECTED}"\n`);
    writeFileSync(join(dir, 'vault.mjs'), `process.stdout.write(${JSON.stringify(CMD_SECRET)})`);
    const env = {
      API_TOKEN: '${SECRET_TOKEN}',
      CMD_TOKEN: `\${cmd:${process.execPath} ${join(dir, 'vault.mjs')}}`,
      BEARER: `Bearer \${cmd:${process.execPath} ${join(dir, 'vault.mjs')}}!`,
      INJECTED: '${INJECTED}',
      PRINT_ENV: 'API_TOKEN,CMD_TOKEN',
    };
    const m = await sessions.start({ mcpServers: { alpha: fixture('alpha', env) } }, { dir, args: ['--debug'] });
    const hashOf = async (name: string) => text(await m.client.callTool({ name: 'alpha__env_hash', arguments: { name } }));
    expect(await hashOf('API_TOKEN')).toBe(sha256(DOTENV_SECRET));
    expect(await hashOf('CMD_TOKEN')).toBe(sha256(CMD_SECRET));
    expect(await hashOf('BEARER')).toBe(sha256(`Bearer ${CMD_SECRET}!`));
    expect(await hashOf('INJECTED')).toBe(sha256(INJECTED));
    expect(existsSync(injectedMarker)).toBe(false);

    // The child printed both secrets on its stderr: its log and mcpx's stderr (--debug) show them masked.
    const childLog = join(dir, 'state', 'logs', 'alpha.log');
    await waitFor(() => existsSync(childLog) && readFileSync(childLog, 'utf8').includes('CMD_TOKEN='), 5000, 'the child log');
    expect(readFileSync(childLog, 'utf8')).toContain('API_TOKEN=****\nCMD_TOKEN=****\n');
    await waitFor(() => m.stderr().includes('[alpha] CMD_TOKEN='), 5000, 'the child stderr in --debug');
    await sessions.stop(m);
    const logs = [m.stderr(), readFileSync(childLog, 'utf8'), readFileSync(join(dir, 'state', 'mcpx.log'), 'utf8')];
    for (const l of logs) for (const secret of [DOTENV_SECRET, CMD_SECRET]) expect(l).not.toContain(secret);
    expect(m.stderr()).toContain('[alpha] API_TOKEN=****');
  }, 60_000);
});

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
