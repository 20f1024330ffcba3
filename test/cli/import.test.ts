import { chmodSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/mcpx.js';
import { REPO, loadConfigFile, mcpx, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => ({ dir, cleanup } = tempDir()));
afterEach(() => cleanup());

const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
const SECRET = 'ghp_do_not_print_me_123';
const github = { command: 'npx', args: ['-y', '@modelcontextprotocol/server-github'], env: { GITHUB_TOKEN: SECRET } };
const docs = { type: 'http', url: 'https://example.com/mcp', headers: { Authorization: 'Bearer ${DOCS_TOKEN}' } };
const live = { type: 'ws', url: 'wss://example.com/ws' };
const MCPX = { command: 'mcpx', args: ['serve'] };
const SAMPLE = JSON.stringify({ mcpServers: { github, docs, live }, projectNote: 'kept' }, null, 2);

describe('mcpx import', () => {
  beforeEach(() => writeFileSync(join(dir, '.mcp.json'), SAMPLE));

  it('moves the runnable entries into mcpx.json, leaves the ws one, keeps a backup', async () => {
    const r = await mcpx(dir, 'import');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(read('.mcp.json.bak')).toBe(SAMPLE);
    expect(JSON.parse(read('.mcp.json'))).toEqual({ mcpServers: { mcpx: MCPX, live }, projectNote: 'kept' });
    expect(JSON.parse(read('mcpx.json'))).toEqual({ mcpServers: { github, docs } });
    const { config } = await loadConfigFile(join(dir, 'mcpx.json'));
    expect(config.servers.map((s) => [s.name, s.transport])).toEqual([['github', 'stdio'], ['docs', 'http']]);
    expect(r.stderr).toMatch(/left "live".*type "ws"/);
    expect(r.stdout + r.stderr).not.toContain(SECRET); // names only, never values
    expect(r.stderr).toContain('GITHUB_TOKEN');
  });

  it('gives the documentation servers it recognises the cache block of mcpx\'s templates, and says so; leaves the rest and a cache block of their own alone', async () => {
    const c7 = { command: 'npx', args: ['-y', '@upstash/context7-mcp'] };
    const atlassian = { command: 'uvx', args: ['mcp-atlassian'], env: { CONFLUENCE_URL: '${CONFLUENCE_URL}' } };
    const notionRemote = { type: 'http', url: 'https://mcp.notion.com/mcp' };
    const own = { command: 'npx', args: ['-y', '@notionhq/notion-mcp-server'], cache: { ttl: '1m' } };
    const standards = { command: 'mcpx', args: ['standards', '--dir', 'docs/standards'] };
    writeFileSync(join(dir, '.mcp.json'), JSON.stringify({ mcpServers: { c7, wiki: atlassian, notes: notionRemote, own, standards, github } }));
    const plan = await mcpx(dir, 'import', '--json', '--dry-run');
    expect(JSON.parse(plan.stdout).caching.map((x: { name: string; template: string }) => [x.name, x.template])).toEqual([
      ['c7', 'context7'], ['wiki', 'confluence'], ['notes', 'notion'], ['standards', 'standards'],
    ]);
    const r = await mcpx(dir, 'import');
    expect(r.exitCode, r.stderr).toBe(0);
    const written = JSON.parse(read('mcpx.json')).mcpServers;
    // Context7 reports a failed fetch as a plain answer: without the template's errorPatterns that text
    // would be cached, shared by everyone, for 2 h.
    const { context7: template } = JSON.parse(readFileSync(join(REPO, 'templates/servers/context7.json'), 'utf8'));
    expect(written.c7).toEqual({ ...c7, cache: { ttl: '2h', scope: 'public' }, errorPatterns: template.errorPatterns });
    expect(written.wiki).toEqual({ ...atlassian, cache: { ttl: '30m' } });
    expect(written.notes).toEqual({ ...notionRemote, cache: { ttl: '15m' } });
    expect(written.own).toEqual(own); // its own block stays as it is
    expect(written.standards).toEqual({ ...standards, cwd: '.', cache: { ttl: '1h', scope: 'public' } });
    expect(written.github).toEqual(github); // live data: not cached
    expect(r.stdout).toContain("turn caching on for c7 (2h), wiki (30m), notes (15m), standards (1h): documentation servers, with the TTLs of mcpx's templates");
    expect(r.stdout).toContain("c7: its error texts count as failures (never cached): the errorPatterns of mcpx's context7 template");
    const { config } = await loadConfigFile(join(dir, 'mcpx.json'));
    expect(Object.fromEntries(config.servers.map((s) => [s.name, s.cache.readOnly]))).toEqual({ c7: true, wiki: true, notes: true, own: true, standards: true, github: false });
  });

  it('marks public documentation (Context7, its remote, the standards server) "scope": "public", and says so; an entry\'s own scope stays', async () => {
    const context7 = { command: 'npx', args: ['-y', '@upstash/context7-mcp'], env: { CONTEXT7_API_KEY: '${CONTEXT7_API_KEY}' }, cache: { ttl: '2h' } };
    const remote = { type: 'http', url: 'https://mcp.context7.com/mcp', headers: { CONTEXT7_API_KEY: '${CONTEXT7_API_KEY}' } };
    const standards = { command: 'mcpx', args: ['standards', '--dir', 'docs/standards'] };
    const mine = { command: 'npx', args: ['-y', '@upstash/context7-mcp@1.0.0'], cache: { scope: 'credential' }, errorPatterns: ['^Oops'] };
    writeFileSync(join(dir, '.mcp.json'), JSON.stringify({ mcpServers: { context7, remote, standards, mine, github } }));
    const r = await mcpx(dir, 'import');
    expect(r.exitCode, r.stderr).toBe(0);
    const { config } = await loadConfigFile(join(dir, 'mcpx.json'));
    expect(Object.fromEntries(config.servers.map((s) => [s.name, s.cache.scope]))).toEqual({ context7: 'public', remote: 'public', standards: 'public', mine: 'credential', github: 'credential' });
    expect(JSON.parse(read('mcpx.json')).mcpServers.context7.cache).toEqual({ ttl: '2h', scope: 'public' });
    // A cache block of its own does not stop the error texts from counting as failures; patterns of its own stay.
    expect(JSON.parse(read('mcpx.json')).mcpServers.context7.errorPatterns).toContain('^Error searching libraries: ');
    expect(JSON.parse(read('mcpx.json')).mcpServers.mine.errorPatterns).toEqual(['^Oops']);
    expect(r.stdout).toContain('context7: public documentation: its cached answers are shared by everyone ("scope": "public")');
    expect(r.stdout).not.toMatch(/(mine|github): public documentation/);
  });

  it("gives a standards server that had no cwd the folder it ran in: two projects' answers never share a cache entry", async () => {
    // Claude Code ran it in the project folder, where its relative --dir is; mcpx turns caching on for it, shared by everyone.
    const env = { MCPX_STATE_DIR: join(dir, 'state'), MCPX_CACHE_DIR: join(dir, 'cache') };
    const standards = { command: process.execPath, args: [join(REPO, 'bin/mcpx.js'), 'standards', '--dir', 'docs/standards'] };
    const answers: string[] = [];
    for (const project of ['alpha', 'beta']) {
      const folder = join(dir, project);
      mkdirSync(join(folder, 'docs/standards'), { recursive: true });
      writeFileSync(join(folder, 'docs/standards/naming.md'), `# Naming in ${project}\n\nNames in ${project} are short.\n`);
      writeFileSync(join(folder, '.mcp.json'), JSON.stringify({ mcpServers: { standards } }));
      for (const args of [['import'], ['trust']]) {
        const r = await runCli(args, { cwd: folder, env });
        expect(r.exitCode, r.stderr).toBe(0);
      }
      expect(JSON.parse(readFileSync(join(folder, 'mcpx.json'), 'utf8')).mcpServers.standards).toMatchObject({ cwd: '.', cache: { scope: 'public' } });
      const call = await runCli(['call', 'standards__get_standard', '{"id":"naming"}'], { cwd: folder, env });
      expect(call.exitCode, call.stderr).toBe(0);
      answers.push(call.stdout);
    }
    expect(answers[0]).toContain('Names in alpha are short.');
    expect(answers[1]).toContain('Names in beta are short.'); // not alpha's answer from the shared cache
  });

  it('--dry-run prints the plan and writes nothing', async () => {
    const r = await mcpx(dir, 'import', '--dry-run');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('would move github');
    expect(readdirSync(dir)).toEqual(['.mcp.json']);
    expect(read('.mcp.json')).toBe(SAMPLE);
  });

  it('bad JSON exits 2 naming the file, without echoing its text', async () => {
    writeFileSync(join(dir, 'broken.json'), `xx ${SECRET}`);
    const r = await mcpx(dir, 'import', 'broken.json');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(join(dir, 'broken.json'));
    expect(r.stderr).not.toContain(SECRET);
  });

  it('a missing file exits 2 naming it', async () => {
    const r = await mcpx(dir, 'import', 'nope.json');
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(join(dir, 'nope.json'));
  });

  it('merges into an existing mcpx.json; refuses a same-named, different server (exit 2, nothing written)', async () => {
    const existing = { defaults: { retries: 0 }, mcpServers: { docs: { command: 'node', args: ['docs.js'] }, mine: { command: 'node', args: ['m.js'] } } };
    writeFileSync(join(dir, 'mcpx.json'), JSON.stringify(existing));
    const refused = await mcpx(dir, 'import');
    expect(refused.exitCode).toBe(2);
    expect(refused.stderr).toContain('"docs"');
    expect(JSON.parse(read('mcpx.json'))).toEqual(existing);
    expect(read('.mcp.json')).toBe(SAMPLE);

    // Once the clash is gone, the import merges and keeps what was there.
    writeFileSync(join(dir, 'mcpx.json'), JSON.stringify({ ...existing, mcpServers: { mine: existing.mcpServers.mine } }));
    const r = await mcpx(dir, 'import');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(read('mcpx.json'))).toEqual({ defaults: { retries: 0 }, mcpServers: { mine: existing.mcpServers.mine, github, docs } });
    await loadConfigFile(join(dir, 'mcpx.json'));
  });

  it('finds Context7 already present when mcpx.json has it as an earlier import wrote it (before errorPatterns were added): no clash', async () => {
    const c7 = { command: 'npx', args: ['-y', '@upstash/context7-mcp'] };
    const earlier = { mcpServers: { c7: { ...c7, cache: { ttl: '2h', scope: 'public' } } } };
    writeFileSync(join(dir, 'mcpx.json'), JSON.stringify(earlier));
    writeFileSync(join(dir, '.mcp.json'), JSON.stringify({ mcpServers: { c7 } }));
    const r = await mcpx(dir, 'import', '--json');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ moved: [], alreadyPresent: ['c7'] });
    expect(JSON.parse(read('mcpx.json'))).toEqual(earlier);
  });

  it('is idempotent: a second run finds nothing to do and keeps the first backup', async () => {
    await mcpx(dir, 'import');
    const after = read('.mcp.json');
    const r = await mcpx(dir, 'import', '--json');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ moved: [], files: [] });
    expect(read('.mcp.json')).toBe(after);
    expect(read('.mcp.json.bak')).toBe(SAMPLE);
  });

  it('keeps an existing mcpx entry as it is and does not import it', async () => {
    const custom = { command: 'node', args: ['/opt/mcpx/bin/mcpx.js', 'serve'], env: { MCPX_CONFIG: 'x.json' } };
    writeFileSync(join(dir, '.mcp.json'), JSON.stringify({ mcpServers: { mcpx: custom, github } }));
    const r = await mcpx(dir, 'import');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(read('.mcp.json'))).toEqual({ mcpServers: { mcpx: custom } });
    expect(Object.keys(JSON.parse(read('mcpx.json')).mcpServers)).toEqual(['github']);
  });

  it('--config writes elsewhere and rebases a relative cwd so it names the same directory', async () => {
    mkdirSync(join(dir, 'conf'));
    writeFileSync(join(dir, '.mcp.json'), JSON.stringify({ mcpServers: { tool: { command: 'node', args: ['t.js'], cwd: 'tools' } } }));
    const r = await mcpx(dir, 'import', '--config', 'conf/mcpx.json');
    expect(r.exitCode, r.stderr).toBe(0);
    const { config } = await loadConfigFile(join(dir, 'conf/mcpx.json'));
    expect(config.servers[0]!.cwd).toBe(join(dir, 'tools'));
  });

  it('keeps the mode of the files it rewrites, gives a new mcpx.json the mode of the .mcp.json it came from, and writes through a symlink', async () => {
    // A 0600 .mcp.json holding a token, kept in a dotfiles folder and linked into the project.
    const dotfiles = join(dir, 'dotfiles');
    mkdirSync(dotfiles);
    writeFileSync(join(dotfiles, 'mcp.json'), SAMPLE);
    chmodSync(join(dotfiles, 'mcp.json'), 0o600);
    symlinkSync(join(dotfiles, 'mcp.json'), join(dir, 'linked.mcp.json'));
    const r = await mcpx(dir, 'import', 'linked.mcp.json');
    expect(r.exitCode, r.stderr).toBe(0);
    const mode = (f: string) => statSync(join(dir, f)).mode & 0o777;
    expect(lstatSync(join(dir, 'linked.mcp.json')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, 'linked.mcp.json'))).toBe(join(dotfiles, 'mcp.json'));
    expect(JSON.parse(read('dotfiles/mcp.json'))).toEqual({ mcpServers: { mcpx: MCPX, live }, projectNote: 'kept' });
    expect(mode('dotfiles/mcp.json')).toBe(0o600);
    expect(mode('mcpx.json')).toBe(0o600); // it now holds the token
    expect(mode('linked.mcp.json.bak')).toBe(0o600);
    expect(readdirSync(dotfiles)).toEqual(['mcp.json']); // no temp file left beside the target

    // A second import into the existing (linked, 0640) mcpx.json keeps both.
    writeFileSync(join(dotfiles, 'mcpx.json'), read('mcpx.json'));
    chmodSync(join(dotfiles, 'mcpx.json'), 0o640);
    symlinkSync(join(dotfiles, 'mcpx.json'), join(dir, 'linked-mcpx.json'));
    writeFileSync(join(dir, 'more.json'), JSON.stringify({ mcpServers: { extra: { command: 'node', args: ['e.js'] } } }));
    const again = await mcpx(dir, 'import', 'more.json', '--config', 'linked-mcpx.json');
    expect(again.exitCode, again.stderr).toBe(0);
    expect(lstatSync(join(dir, 'linked-mcpx.json')).isSymbolicLink()).toBe(true);
    expect(Object.keys(JSON.parse(read('dotfiles/mcpx.json')).mcpServers)).toEqual(['github', 'docs', 'extra']);
    expect(mode('dotfiles/mcpx.json')).toBe(0o640);
  });
});
