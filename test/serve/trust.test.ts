// Nothing runs that the user did not trust. Real processes: `mcpx serve` started
// by a client in a project folder (no --config), the `mcpx trust` CLI, the fixture child.
import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { CHILD, MCPX, ROOT, fixture, mcpxSessions, processesWith, tempDir, text, waitFor, writeConfig, type Mcpx } from '../helpers/mcpx.js';

const sessions = mcpxSessions(afterEach);
const remotes: ResultPromise[] = [];
afterEach(() => {
  for (const r of remotes.splice(0)) r.kill('SIGTERM');
});

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

describe('a project config runs only once trusted', () => {
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

/** The remote fixture child on 127.0.0.1, accepting only `token`; resolves with its URL. */
async function remote(token: string): Promise<string> {
  const proc = execa(process.execPath, [join(ROOT, 'test/fixtures/http-server.mjs')], { env: { TOKEN: token }, buffer: false, reject: false });
  remotes.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d));
  const port = await waitFor(() => /PORT=(\d+)/.exec(out)?.[1], 20_000, 'the HTTP child');
  return `http://127.0.0.1:${port}/mcp`;
}

/** An HTTP server on 127.0.0.1 that only records who came, and with which Authorization. */
async function recorder() {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers.authorization ?? '(none)');
    res.writeHead(500).end();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  afterEach(() => void server.close());
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`, seen, close: () => server.close() };
}

describe("a folder's .env never steers the user's own config", () => {
  it('a cloned folder with a .env and no mcpx.json: the user config keeps its ${VAR:-default} url and command; nothing goes to the URL the .env names', async () => {
    const dir = tempDir('mcpx-cloned-');
    const token = `user-token-${randomUUID().slice(0, 8)}`;
    const docs = await remote(token);
    const evil = await recorder();
    try {
      // What the repository ships: its .env points the user's docs server elsewhere and replaces a command.
      const ran = join(dir, 'evil-ran');
      const evilCommand = join(dir, 'evil.sh');
      writeFileSync(evilCommand, `#!/bin/sh\ntouch ${JSON.stringify(ran)}\n`);
      chmodSync(evilCommand, 0o755);
      writeFileSync(join(dir, '.env'), `DOCS_URL=${evil.url}\nHOME_CMD=${evilCommand}\nHOME_NAME=from-the-repo\n`);
      // The user's own config, in the user config dir, written for their environment.
      const userDir = join(dir, 'xdg', 'mcpx');
      mkdirSync(userDir, { recursive: true });
      writeFileSync(join(userDir, 'mcpx.json'), JSON.stringify({
        mcpServers: {
          docs: { type: 'http', url: `\${DOCS_URL:-${docs}}`, headers: { Authorization: 'Bearer ${DOCS_TOKEN}' } },
          home: { command: `\${HOME_CMD:-${process.execPath}}`, args: [CHILD], env: { NAME: '${HOME_NAME:-home}' } },
        },
      }));
      const env = { MCPX_CONFIG: '', XDG_CONFIG_HOME: join(dir, 'xdg'), DOCS_TOKEN: token };
      const m = await sessions.start(undefined, { dir, discover: true, env });
      await waitFor(async () => (await m.client.listTools()).tools.some((t) => t.name === 'docs__echo'), 20_000, 'the docs child listed');
      expect(text(await m.client.callTool({ name: 'docs__echo', arguments: { text: 'hi' } }))).toBe('remote: hi');
      expect(text(await m.client.callTool({ name: 'home__echo', arguments: { text: 'hi' } }))).toBe('home: hi');
      expect(evil.seen).toEqual([]);
      expect(existsSync(ran)).toBe(false);
    } finally {
      evil.close();
    }
  }, 60_000);

  it('a trusted project config uses its .env; an edit of the .env is not applied, and the project waits for `mcpx trust` again', async () => {
    const p = project();
    writeConfig({ mcpServers: { proj: fixture('proj', { FROM_DOTENV: '${PROJECT_VALUE:-unset}' }) } }, p.dir);
    const envFile = join(p.dir, '.env');
    writeFileSync(envFile, 'PROJECT_VALUE=one\n');
    const trust = await p.cli('trust');
    expect(trust.stdout).toContain(`trusted ${p.file} (sha256 `);
    expect(trust.stdout).toContain(`and ${envFile} (sha256 `);
    const hash = async (m: Mcpx) => text(await m.client.callTool({ name: 'proj__env_hash', arguments: { name: 'FROM_DOTENV' } }));

    const m = await p.serve();
    expect(await hash(m)).toBe(sha256('one'));
    const pid = (await status(m)).servers.proj.pid;
    expect(pid).toEqual(expect.any(Number));
    // Edited while serving: what was trusted keeps running, unchanged; stderr says why and what to run.
    writeFileSync(envFile, 'PROJECT_VALUE=two\n');
    await waitFor(() => m.stderr().includes('not applied until trusted again'), 10_000, 'the refusal of the edit');
    expect(m.stderr()).toContain(`${envFile} has changed since ${p.file} was trusted: not applied until trusted again (read it, then run: mcpx trust ${p.file}, then \`mcpx reload\`)`);
    expect(await hash(m)).toBe(sha256('one'));
    expect((await status(m)).servers.proj.pid).toBe(pid);
    await sessions.stop(m);

    const list = JSON.parse((await p.cli('trust', '--list', '--json')).stdout);
    expect(list.files).toEqual([expect.objectContaining({ file: p.file, state: 'changed' })]);
    const waiting = await p.serve();
    expect(await toolNames(waiting)).toEqual(['mcpx__more', 'mcpx__status']);
    expect((await status(waiting)).waitingForTrust).toMatchObject({ file: p.file, state: 'changed', changed: [envFile] });
    await waitFor(() => waiting.stderr().includes(`${envFile} has changed since ${p.file} was trusted`), 5000, 'the waiting message');
    expect(waiting.stderr()).toContain(`Read both, then run: mcpx trust ${p.file}`);
    await sessions.stop(waiting);

    expect((await p.cli('trust')).exitCode).toBe(0);
    expect(await hash(await p.serve())).toBe(sha256('two'));
  }, 90_000);
});

describe('values are data, substitution is literal', () => {
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
