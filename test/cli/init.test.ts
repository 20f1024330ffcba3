import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { REPO, loadConfigFile, mcpx, tempDir } from './helpers.js';
import { runCli } from '../helpers/mcpx.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
const serverNames = (): string[] => Object.keys(JSON.parse(read('mcpx.json')).mcpServers);

describe('mcpx init', () => {
  it('writes mcpx.json (valid), .env.example and .gitignore into an empty directory', async () => {
    const r = await mcpx(dir, 'init');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(serverNames()).toEqual(['context7', 'confluence', 'notion', 'standards']);
    const { config } = await loadConfigFile(join(dir, 'mcpx.json'));
    const byName = Object.fromEntries(config.servers.map((s) => [s.name, s]));
    expect(byName.context7!.cache.ttl).toBe(2 * 3_600_000);
    // Caching is opt-in: init turns it on for each documentation server, with the README's TTLs.
    expect(Object.fromEntries(config.servers.map((s) => [s.name, [s.cache.readOnly, s.cache.ttl]]))).toEqual({
      context7: [true, 2 * 3_600_000], confluence: [true, 30 * 60_000], notion: [true, 15 * 60_000], standards: [true, 3_600_000],
    });
    // Public documentation: shared by everyone, whatever their own keys; the others' answers stay per credential.
    expect(Object.fromEntries(config.servers.map((s) => [s.name, s.cache.scope]))).toEqual({ context7: 'public', confluence: 'credential', notion: 'credential', standards: 'public' });
    // The texts @upstash/context7-mcp 4.x answers with (no isError) when its API cannot be reached or refuses.
    const failed = (text: string): boolean => byName.context7!.errorPatterns.some((p) => p.test(text));
    for (const text of [
      'Error searching libraries: TypeError: fetch failed',
      'Error fetching library context. Please try again later. TypeError: fetch failed',
      'Rate limited or quota exceeded. Create a free API key at https://context7.com/dashboard for higher limits.',
      'Request failed with status 503. Please try again later.',
      "Invalid API key. Please check your API key. API keys should start with 'ctx7sk' prefix.",
    ]) expect(failed(text), text).toBe(true);
    // Documentation that quotes an error is an answer: a page about Node's fetch says "TypeError: fetch failed".
    expect(failed('### Handle network errors\n\nawait fetch(url) rejects with `TypeError: fetch failed` when the host is unreachable.')).toBe(false);
    expect(failed('Available Libraries:\n\n- Title: Axios\n  Request failed with status code 404 is the message of an AxiosError.')).toBe(false);
    expect(byName.confluence).toMatchObject({ timeoutMs: 5_000, breaker: { failureThreshold: 3 } });
    expect(byName.confluence!.fallback.backupDir).toBe(join(dir, 'docs/confluence-backup'));
    expect(byName.notion!.rateLimit).toEqual({ calls: 180, perMs: 60_000 });
    expect(byName.standards).toMatchObject({ timeoutMs: 2_000, cwd: dir });
    expect(read('.env.example')).toMatch(/^# NOTION_TOKEN=$/m);
    expect(read('.env.example')).toMatch(/^# CONFLUENCE_API_TOKEN=$/m);
    expect(read('.gitignore')).toBe('.env\n');
    // Without --register the entry is printed, not written.
    expect(JSON.parse(r.stdout)).toEqual({ mcpServers: { mcpx: { command: 'mcpx', args: ['serve'] } } });
    expect(existsSync(join(dir, '.mcp.json'))).toBe(false);
  });

  it('refuses to overwrite an existing mcpx.json without --force (exit 2, file unchanged)', async () => {
    await mcpx(dir, 'init');
    writeFileSync(join(dir, 'mcpx.json'), '{"mcpServers": {}}\n');
    const r = await mcpx(dir, 'init');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(join(dir, 'mcpx.json'));
    expect(r.stderr).toContain('--force');
    expect(read('mcpx.json')).toBe('{"mcpServers": {}}\n');
  });

  it('overwrites with --force', async () => {
    writeFileSync(join(dir, 'mcpx.json'), '{"mcpServers": {}}\n');
    writeFileSync(join(dir, '.env.example'), 'OLD=1\n');
    const r = await mcpx(dir, 'init', '--force', '--with', 'notion');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(serverNames()).toEqual(['notion']);
    expect(read('.env.example')).not.toContain('OLD=1');
  });

  it('--with writes only the chosen servers and their variables', async () => {
    const r = await mcpx(dir, 'init', '--with', 'notion,standards,context7-remote');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(serverNames()).toEqual(['notion', 'standards', 'context7-remote']);
    const { config } = await loadConfigFile(join(dir, 'mcpx.json'));
    expect(config.servers.find((s) => s.name === 'context7-remote')).toMatchObject({ transport: 'http', url: 'https://mcp.context7.com/mcp' });
    const env = read('.env.example');
    expect(env).toContain('NOTION_TOKEN');
    expect(env).toContain('CONTEXT7_API_KEY');
    expect(env).not.toContain('CONFLUENCE');
  });

  it('an unknown --with name exits 2, names it, lists the valid ones and writes nothing', async () => {
    const r = await mcpx(dir, 'init', '--with', 'notion,jira');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('"jira"');
    expect(r.stderr).toContain('confluence, context7, context7-remote, notion, standards');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('--register merges the mcpx entry into .mcp.json, keeping other entries and keys', async () => {
    const other = { command: 'node', args: ['x.js'] };
    writeFileSync(join(dir, '.mcp.json'), JSON.stringify({ mcpServers: { other }, note: 'kept' }));
    const r = await mcpx(dir, 'init', '--register', '--with', 'standards');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(read('.mcp.json'))).toEqual({
      mcpServers: { other, mcpx: { command: 'mcpx', args: ['serve'] } },
      note: 'kept',
    });
    expect(r.stderr).toContain('mcpx import'); // the other entry could move behind mcpx
  });

  it('--register into an empty directory creates .mcp.json', async () => {
    const r = await mcpx(dir, 'init', '--register');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(read('.mcp.json'))).toEqual({ mcpServers: { mcpx: { command: 'mcpx', args: ['serve'] } } });
  });

  it('--register keeps the mode of .mcp.json and writes through its symlink', async () => {
    mkdirSync(join(dir, 'dotfiles'));
    const real = join(dir, 'dotfiles', 'mcp.json');
    writeFileSync(real, JSON.stringify({ mcpServers: { other: { command: 'node', env: { TOKEN: 'tok' } } } }));
    chmodSync(real, 0o600);
    symlinkSync(real, join(dir, '.mcp.json'));
    const r = await mcpx(dir, 'init', '--register', '--with', 'standards');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(lstatSync(join(dir, '.mcp.json')).isSymbolicLink()).toBe(true);
    expect(Object.keys(JSON.parse(readFileSync(real, 'utf8')).mcpServers)).toEqual(['other', 'mcpx']);
    expect(statSync(real).mode & 0o777).toBe(0o600);
    // --force over a 0600 mcpx.json keeps it 0600.
    chmodSync(join(dir, 'mcpx.json'), 0o600);
    expect((await mcpx(dir, 'init', '--force', '--with', 'notion')).exitCode).toBe(0);
    expect(statSync(join(dir, 'mcpx.json')).mode & 0o777).toBe(0o600);
  });

  it('trusts the mcpx.json it writes, unless a .env is already beside it (the trust covers that .env)', async () => {
    const env = { MCPX_STATE_DIR: join(dir, 'state') };
    expect((await runCli(['init', '--with', 'standards'], { cwd: dir, env })).exitCode).toBe(0);
    expect(JSON.parse((await runCli(['trust', '--list', '--json'], { cwd: dir, env })).stdout).files).toEqual([expect.objectContaining({ state: 'matches' })]);
    const other = join(dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, '.env'), 'X=1\n');
    const r = await runCli(['init', '--with', 'standards'], { cwd: other, env });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain('mcpx.json is not trusted yet: a .env is beside it; read both, then run `mcpx trust`');
    expect(JSON.parse((await runCli(['trust', '--list', '--json'], { cwd: dir, env })).stdout).files).toHaveLength(1);
  });

  it('adds .env to an existing .gitignore once, without a trailing newline to start from', async () => {
    writeFileSync(join(dir, '.gitignore'), 'node_modules/');
    await mcpx(dir, 'init');
    await mcpx(dir, 'init', '--force');
    expect(read('.gitignore')).toBe('node_modules/\n.env\n');
  });

  it('--dir writes into another directory; --json prints what was written', async () => {
    const r = await mcpx(dir, 'init', '--dir', 'proj', '--with', 'standards', '--json');
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.servers).toEqual(['standards']);
    expect(out.files.map((f: { file: string; action: string }) => [f.file, f.action])).toEqual([
      [join(dir, 'proj/mcpx.json'), 'created'],
      [join(dir, 'proj/.env.example'), 'created'],
      [join(dir, 'proj/.gitignore'), 'created'],
    ]);
  });
});

describe('templates', () => {
  it('mcpx.demo.json loads and points at files that exist', async () => {
    const { config } = await loadConfigFile(join(REPO, 'templates/mcpx.demo.json'));
    const everything = config.servers.find((s) => s.name === 'everything')!;
    expect(existsSync(join(everything.cwd!, everything.args[0]!))).toBe(true);
    const standards = config.servers.find((s) => s.name === 'standards')!;
    expect(existsSync(join(standards.cwd!, standards.args[0]!))).toBe(true);
  });
});
