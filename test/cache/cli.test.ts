import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/cache/db.js';
import { StatsRecorder } from '../../src/cache/stats.js';
import { SqliteResultStore } from '../../src/cache/store.js';
import { ROOT, runNode, tempDir } from './helpers.js';

/** `node bin/mcpx.js …` in a temp dir with no config anywhere, the cache in MCPX_CACHE_DIR. */
function mcpx(cwd: string, cacheDir: string, ...args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env, MCPX_CACHE_DIR: cacheDir, HOME: cwd, XDG_CONFIG_HOME: join(cwd, '.config') };
  delete env.MCPX_CONFIG;
  return runNode([join(ROOT, 'bin/mcpx.js'), ...args], { cwd, env });
}

function seed(cacheDir: string): void {
  const cdb = openDatabase(cacheDir);
  const store = new SqliteResultStore(cdb, { maxEntryBytes: 1 << 20, maxMb: 64 });
  const put = (key: string, server: string, tool: string, storedAt = Date.now()) =>
    store.put({ key, server, tool, result: { content: [{ type: 'text', text: key }] }, ttlMs: 3_600_000, staleTtlMs: 0 }, storedAt);
  put('a', 'ctx7', 'search');
  put('b', 'ctx7', 'fetch');
  put('c', 'notion', 'search');
  put('old', 'notion', 'search', Date.now() - 7_200_000); // stored two hours ago: past its stale time
  const stats = new StatsRecorder(cdb);
  stats.count('ctx7', 'hits', 7);
  stats.count('ctx7', 'misses', 2);
  stats.count('notion', 'stale_hits');
  stats.close();
  store.close();
  cdb.close();
}

describe('mcpx cache (real processes)', () => {
  it('stats --json: entries, bytes, hits, stale hits and misses per server', async () => {
    const cwd = tempDir();
    const cacheDir = join(cwd, 'cache');
    seed(cacheDir);
    const r = await mcpx(cwd, cacheDir, 'cache', 'stats', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s).toMatchObject({ file: join(cacheDir, 'cache.db'), exists: true, entries: 4, hits: 7, staleHits: 1, misses: 2 });
    expect(s.servers.map((x: { server: string; entries: number }) => [x.server, x.entries])).toEqual([['ctx7', 2], ['notion', 2]]);
    expect(s.oldest).toMatch(/^\d{4}-\d\d-\d\dT/);

    const text = await mcpx(cwd, cacheDir, 'cache', 'stats');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/4 entries/);
    expect(text.stdout).toMatch(/^ctx7\s+2\s+/m);
  });

  it('clear --server X prints the count; clear --tool; clear everything', async () => {
    const cwd = tempDir();
    const cacheDir = join(cwd, 'cache');
    seed(cacheDir);
    const r = await mcpx(cwd, cacheDir, 'cache', 'clear', '--server', 'ctx7');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^removed 2 entries \(server ctx7\)/);
    const t = await mcpx(cwd, cacheDir, 'cache', 'clear', '--tool', 'search', '--json');
    expect(JSON.parse(t.stdout)).toMatchObject({ removed: 2, tool: 'search' });
    const all = await mcpx(cwd, cacheDir, 'cache', 'clear');
    expect(all.stdout).toMatch(/^removed 0 entries from /);
  });

  it('prune drops entries past their stale time and compacts', async () => {
    const cwd = tempDir();
    const cacheDir = join(cwd, 'cache');
    seed(cacheDir);
    const r = await mcpx(cwd, cacheDir, 'cache', 'prune', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ removed: 1, vacuumed: true });
    const s = JSON.parse((await mcpx(cwd, cacheDir, 'cache', 'stats', '--json')).stdout);
    expect(s.entries).toBe(3);
  });

  it('works without any config, and creates nothing when there is no cache yet', async () => {
    const cwd = tempDir();
    const cacheDir = join(cwd, 'never');
    const r = await mcpx(cwd, cacheDir, 'cache', 'clear');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^removed 0 entries/);
    expect(JSON.parse((await mcpx(cwd, cacheDir, 'cache', 'stats', '--json')).stdout)).toMatchObject({ exists: false, entries: 0 });
    expect(existsSync(cacheDir)).toBe(false);
  });

  it('uses cache.dir from the config; a missing --config file or a bad config exits 2', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'mcpx.json'), JSON.stringify({ mcpServers: {}, cache: { dir: './from-config' } }));
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: cwd, XDG_CONFIG_HOME: join(cwd, '.config') };
    delete env.MCPX_CACHE_DIR;
    delete env.MCPX_CONFIG;
    seed(join(cwd, 'from-config'));
    expect((await runNode([join(ROOT, 'bin/mcpx.js'), 'trust'], { cwd, env })).code).toBe(0); // a project config is used once trusted
    const r = await runNode([join(ROOT, 'bin/mcpx.js'), 'cache', 'stats', '--json'], { cwd, env });
    expect(JSON.parse(r.stdout)).toMatchObject({ file: join(cwd, 'from-config', 'cache.db'), entries: 4 });

    const missing = await mcpx(cwd, join(cwd, 'c'), 'cache', 'stats', '--config', join(cwd, 'nope.json'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot read config/);
    writeFileSync(join(cwd, 'bad.json'), '{ not json');
    const bad = await mcpx(cwd, join(cwd, 'c'), 'cache', 'clear', '--config', join(cwd, 'bad.json'));
    expect(bad.code).toBe(2);
    const usage = await mcpx(cwd, join(cwd, 'c'), 'cache', 'clear', '--bogus');
    expect(usage.code).toBe(2);
  });
});
