import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dist, sandbox, type Sandbox } from './run-helpers.js';

/**
 * The pipeline does not record stats yet (the telemetry colleague wires StatsRecorder into serve),
 * so these tests fill the database the way serve will: through the cache module's StatsRecorder.
 */
let sb: Sandbox;
beforeEach(() => {
  sb = sandbox();
  sb.config({ alpha: sb.child('alpha'), beta: sb.child('beta') });
});
afterEach(() => sb.cleanup());

async function record(fill: (r: import('../../src/cache/stats.js').StatsRecorder) => void): Promise<void> {
  const { openDatabase } = await dist<typeof import('../../src/cache/db.js')>('cache/db.js');
  const { StatsRecorder } = await dist<typeof import('../../src/cache/stats.js')>('cache/stats.js');
  const cdb = openDatabase(join(sb.dir, 'cache'));
  const rec = new StatsRecorder(cdb, { flushMs: 60_000 });
  fill(rec);
  rec.close();
  cdb.close();
}

describe('mcpx stats', () => {
  it('with no database yet: says so, exit 0, and creates nothing', async () => {
    const r = await sb.mcpx(['stats']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('no statistics yet');
    expect(r.stdout).toContain(join(sb.dir, 'cache', 'cache.db'));
    const j = await sb.mcpx(['stats', '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ exists: false, servers: [] });
    expect(existsSync(join(sb.dir, 'cache', 'cache.db'))).toBe(false);
  });

  it('per server: calls, errors, timeouts, breaker opens, p50/p95, hits / stale / misses and the share saved', async () => {
    await record((r) => {
      r.count('alpha', 'calls', 10);
      r.count('alpha', 'errors', 2);
      r.count('alpha', 'timeouts', 1);
      r.count('alpha', 'breaker_opens', 1);
      r.count('alpha', 'hits', 6);
      r.count('alpha', 'stale_hits', 1);
      r.count('alpha', 'misses', 3);
      for (let i = 0; i < 9; i++) r.latency('alpha', 20);
      r.latency('alpha', 400);
      r.count('old-server', 'calls', 1);
    });
    const j = await sb.mcpx(['stats', '--json']);
    expect(j.exitCode, j.stderr).toBe(0);
    const report = JSON.parse(j.stdout) as { exists: boolean; servers: Record<string, unknown>[] };
    expect(report.exists).toBe(true);
    expect(report.servers.find((s) => s.server === 'alpha')).toMatchObject({
      calls: 10, errors: 2, timeouts: 1, breakerOpens: 1, hits: 6, staleHits: 1, misses: 3,
      latency: { count: 10, p50Ms: 25, p95Ms: 400 },
      savedShare: 0.6,
      configured: true,
    });
    expect(report.servers.find((s) => s.server === 'old-server')).toMatchObject({ configured: false });

    const t = await sb.mcpx(['stats']);
    expect(t.exitCode, t.stderr).toBe(0);
    expect(t.stdout).toMatch(/^alpha +10 +2 +1 +1 +0 +0 +25 ms +400 ms +6 +1 +3 +60%$/m); // … quota held 0, cut 0
    expect(t.stdout).toContain('old-server (not in config)');
  });

  it('after tools and calls through mcpx, stats still answers (whatever serve has recorded)', async () => {
    const call = await sb.mcpx(['call', 'alpha__echo', '{"text":"hi"}']);
    expect(call.exitCode, call.stderr).toBe(0);
    const r = await sb.mcpx(['stats', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(Array.isArray((JSON.parse(r.stdout) as { servers: unknown[] }).servers)).toBe(true);
  });

  it('a config error exits 2', async () => {
    const r = await sb.mcpx(['stats', '--config', join(sb.dir, 'nope.json')]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('nope.json');
  });
});
