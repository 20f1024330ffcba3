// Project configs need trust (issue 11): the store, and how loadConfig finds and uses a config.
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
    const bytes = () => readFileSync(file);
    expect(trustState(file, bytes())).toBe('unknown');
    const t = trustFile(file);
    expect(t).toMatchObject({ file, sha256: expect.stringMatching(/^[0-9a-f]{64}$/), servers: [{ server: 'p', runs: 'node' }] });
    expect(trustState(file, bytes())).toBe('trusted');
    appendFileSync(file, ' ');
    expect(trustState(file, bytes())).toBe('changed');
    expect(listTrusted()).toEqual([expect.objectContaining({ file, state: 'changed' })]);
    expect(untrustFile(file)).toBe(true);
    expect(untrustFile(file)).toBe(false);
    expect(trustState(file, bytes())).toBe('unknown');
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
    expect(trustState(file, Buffer.from('{}'))).toBe('unknown');
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
    expect(() => reloadConfig(trusted)).toThrow(`${file} is no longer the file you trusted`);
    expect(loadConfig().config.waitingForTrust).toMatchObject({ state: 'changed' });
  });
});
