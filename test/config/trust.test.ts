// Project configs need trust: the store, and how loadConfig finds and uses a config.
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// Before the config modules load: env-paths reads XDG_CONFIG_HOME once, at import.
const home = vi.hoisted(() => {
  const dir = `${process.env.TMPDIR ?? '/tmp'}/mcpx-trust-unit-home-${process.pid}`;
  process.env.XDG_CONFIG_HOME = `${dir}/xdg`;
  return dir;
});
import { loadConfig, reloadConfig } from '../../src/config/index.js';
import { listTrusted, trustFile, trustState, trustStoreFile, untrustFile } from '../../src/config/trust.js';

let dir: string;
let state: string;
const cwd = process.cwd();
const saved = { state: process.env.MCPX_STATE_DIR, config: process.env.MCPX_CONFIG };

beforeEach(() => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'mcpx-trust-unit-')));
  state = join(dir, 'state');
  process.env.MCPX_STATE_DIR = state;
  delete process.env.MCPX_CONFIG;
  process.chdir(dir);
});
afterEach(() => {
  process.chdir(cwd);
  process.env.MCPX_STATE_DIR = saved.state;
  if (saved.config !== undefined) process.env.MCPX_CONFIG = saved.config;
  rmSync(dir, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

const project = (servers: Record<string, unknown> = { p: { command: 'node', env: { T: '${sh:touch pwned && echo x}' } } }) => {
  const file = join(dir, 'mcpx.json');
  writeFileSync(file, JSON.stringify({ mcpServers: servers }));
  return file;
};

describe('the trust store', () => {
  it('trusts the bytes: unknown, then trusted, changed after any edit, unknown again once untrusted', () => {
    const file = project();
    const bytes = () => ({ config: readFileSync(file), env: undefined });
    const stateOf = () => trustState(file, bytes()).state;
    expect(stateOf()).toBe('unknown');
    const t = trustFile(file);
    expect(t).toMatchObject({ file, sha256: expect.stringMatching(/^[0-9a-f]{64}$/), servers: [{ server: 'p', runs: 'node' }] });
    expect(stateOf()).toBe('trusted');
    appendFileSync(file, ' ');
    expect(trustState(file, bytes())).toEqual({ state: 'changed', changed: [file] });
    expect(listTrusted()).toEqual([expect.objectContaining({ file, state: 'changed' })]);
    expect(untrustFile(file)).toBe(true);
    expect(untrustFile(file)).toBe(false);
    expect(stateOf()).toBe('unknown');
  });

  it('lives in the state dir ($MCPX_STATE_DIR), 0600 in a 0700 folder; a missing file is listed as missing', () => {
    const file = project();
    trustFile(file);
    expect(trustStoreFile()).toBe(join(state, 'trusted.json'));
    expect(statSync(trustStoreFile()).mode & 0o777).toBe(0o600);
    expect(statSync(state).mode & 0o777).toBe(0o700);
    rmSync(file);
    expect(listTrusted()).toEqual([expect.objectContaining({ file, state: 'missing' })]);
  });

  it('a broken store trusts nothing', () => {
    const file = project();
    mkdirSync(state, { recursive: true });
    writeFileSync(trustStoreFile(), '{ not json');
    expect(trustState(file, { config: Buffer.from('{}'), env: undefined }).state).toBe('unknown');
    expect(listTrusted()).toEqual([]);
  });
});

describe('loadConfig and trust', () => {
  it('an untrusted ./mcpx.json gives no servers, reads no .env, and names the file and the command', () => {
    const file = project({ p: { command: 'node', env: { T: '${FROM_DOTENV}' } } });
    writeFileSync(join(dir, '.env'), 'FROM_DOTENV=x\n');
    const { config, warnings } = loadConfig();
    expect(config.servers).toEqual([]);
    expect(config.envFiles).toEqual([]);
    expect(config.waitingForTrust).toMatchObject({ file, state: 'unknown', command: `mcpx trust ${file}` });
    expect(warnings[0]).toBe(`${file} is not trusted yet: nothing in it runs (no servers are started). Read it, then run: mcpx trust ${file}`);
  });

  it('once trusted it is used; --config and $MCPX_CONFIG need no trust', () => {
    const file = project();
    expect(loadConfig(file).config.foundBy).toBe('flag');
    expect(loadConfig(file).config.waitingForTrust).toBeUndefined();
    process.env.MCPX_CONFIG = file;
    expect(loadConfig().config.foundBy).toBe('env');
    delete process.env.MCPX_CONFIG;
    trustFile(file);
    const { config } = loadConfig();
    expect(config).toMatchObject({ file, foundBy: 'cwd' });
    expect(config.waitingForTrust).toBeUndefined();
    expect(config.servers.map((s) => s.name)).toEqual(['p']);
  });

  it('while the project waits, the user config is used (without the project .env); a reload of an edited project config is refused', () => {
    const user = join(home, 'xdg', 'mcpx', 'mcpx.json');
    mkdirSync(join(home, 'xdg', 'mcpx'), { recursive: true });
    writeFileSync(user, JSON.stringify({ mcpServers: { u: { command: 'node' } } }));
    const file = project();
    writeFileSync(join(dir, '.env'), 'X=1\n');
    const waiting = loadConfig();
    expect(waiting.config).toMatchObject({ file: user, foundBy: 'user', envFiles: [], waitingForTrust: { file, state: 'unknown' } });
    expect(waiting.warnings[0]).toContain(`(serving ${user} meanwhile)`);
    expect(reloadConfig(waiting.config).config.envFiles).toEqual([]);

    trustFile(file);
    const trusted = loadConfig().config;
    expect(trusted.file).toBe(file);
    appendFileSync(file, '\n');
    expect(() => reloadConfig(trusted)).toThrow(`${file} has changed since it was trusted; not using it`);
    expect(loadConfig().config.waitingForTrust).toMatchObject({ state: 'changed' });
  });
});

describe('the .env of a folder', () => {
  const userConfig = (servers: Record<string, unknown>) => {
    const file = join(home, 'xdg', 'mcpx', 'mcpx.json');
    mkdirSync(join(home, 'xdg', 'mcpx'), { recursive: true });
    writeFileSync(file, JSON.stringify({ mcpServers: servers }));
    return file;
  };
  const remote = { type: 'http', url: '${DOCS_URL:-https://docs.example.com/mcp}', headers: { Authorization: 'Bearer ${DOCS_TOKEN:-none}' } };

  it("never fills the user's own config: a folder with a .env and no mcpx.json leaves its defaults in place", () => {
    const user = userConfig({ docs: remote, tool: { command: '${TOOL_CMD:-node}' } });
    writeFileSync(join(dir, '.env'), 'DOCS_URL=https://evil.example/mcp\nDOCS_TOKEN=x\nTOOL_CMD=/tmp/evil\n');
    const { config } = loadConfig();
    expect(config).toMatchObject({ file: user, foundBy: 'user', envFiles: [] });
    const byName = Object.fromEntries(config.servers.map((s) => [s.name, s]));
    expect(byName.docs).toMatchObject({ url: 'https://docs.example.com/mcp', headers: { Authorization: 'Bearer none' } });
    expect(byName.tool).toMatchObject({ command: 'node' });
  });

  it('--config and $MCPX_CONFIG read the .env beside the file, not the working directory\'s', () => {
    const elsewhere = join(dir, 'elsewhere');
    mkdirSync(elsewhere);
    const file = join(elsewhere, 'mcpx.json');
    writeFileSync(file, JSON.stringify({ mcpServers: { docs: remote } }));
    writeFileSync(join(dir, '.env'), 'DOCS_URL=https://evil.example/mcp\n');
    expect(loadConfig(file).config.servers[0]).toMatchObject({ url: 'https://docs.example.com/mcp' });
    writeFileSync(join(elsewhere, '.env'), 'DOCS_URL=https://mine.example/mcp\n');
    expect(loadConfig(file).config).toMatchObject({ envFiles: [join(elsewhere, '.env')], servers: [{ url: 'https://mine.example/mcp' }] });
    process.env.MCPX_CONFIG = file;
    expect(loadConfig().config).toMatchObject({ foundBy: 'env', servers: [{ url: 'https://mine.example/mcp' }] });
  });

  it("is covered by the project's trust: recorded by `mcpx trust`; an edit, a new one or a removed one makes the project wait", () => {
    const file = project({ p: { command: 'node', env: { V: '${FROM_DOTENV:-unset}' } } });
    const env = join(dir, '.env');
    writeFileSync(env, 'FROM_DOTENV=one\n');
    expect(trustFile(file).env).toEqual({ file: env, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const used = () => loadConfig().config.servers[0]?.env.V;
    expect(used()).toBe('one');
    expect(loadConfig().config.envFiles).toEqual([env]);

    writeFileSync(env, 'FROM_DOTENV=two\n');
    const { config, warnings } = loadConfig();
    expect(config.servers).toEqual([]);
    expect(config.waitingForTrust).toMatchObject({ file, state: 'changed', changed: [env], command: `mcpx trust ${file}` });
    expect(warnings[0]).toBe(`${env} has changed since ${file} was trusted: nothing in either runs or is read (no servers are started). Read both, then run: mcpx trust ${file}`);
    expect(listTrusted()).toEqual([expect.objectContaining({ file, state: 'changed' })]);
    trustFile(file);
    expect(used()).toBe('two');

    rmSync(env);
    expect(loadConfig().config.waitingForTrust?.message).toContain(`${env} is gone since ${file} was trusted`);
    trustFile(file);
    expect(used()).toBe('unset');
    writeFileSync(env, 'FROM_DOTENV=new\n');
    expect(loadConfig().config.waitingForTrust).toMatchObject({ state: 'changed', changed: [env] });
  });

  it('a record made before the .env was covered trusts no .env: one beside the file needs `mcpx trust` again', () => {
    const file = project();
    trustFile(file);
    const store = JSON.parse(readFileSync(trustStoreFile(), 'utf8'));
    for (const r of Object.values(store.files) as Record<string, unknown>[]) delete r.env;
    writeFileSync(trustStoreFile(), JSON.stringify(store));
    expect(loadConfig().config.waitingForTrust).toBeUndefined();
    writeFileSync(join(dir, '.env'), 'X=1\n');
    expect(loadConfig().config.waitingForTrust).toMatchObject({ state: 'changed', changed: [join(dir, '.env')] });
  });
});
