import { describe, expect, it } from 'vitest';
import { CatalogStore } from '../../src/cache/catalog.js';
import { openDatabase } from '../../src/cache/db.js';
import { readStats, StatsRecorder } from '../../src/cache/stats.js';
import { tempDir } from './helpers.js';

describe('StatsRecorder', () => {
  it('buffers in memory, writes on flush, and adds up across connections', () => {
    const dir = tempDir();
    const a = openDatabase(dir);
    const b = openDatabase(dir);
    const ra = new StatsRecorder(a, { flushMs: 60_000 });
    const rb = new StatsRecorder(b, { flushMs: 60_000 });
    for (let i = 0; i < 10; i++) ra.count('ctx7', 'hits');
    ra.count('ctx7', 'misses', 3);
    rb.count('ctx7', 'hits', 5);
    rb.count('notion', 'timeouts');
    expect(readStats(a)).toEqual([]); // nothing written per call
    ra.flush();
    rb.close();
    const rows = readStats(a);
    expect(rows.map((r) => r.server)).toEqual(['ctx7', 'notion']);
    expect(rows[0]).toMatchObject({ hits: 15, misses: 3, staleHits: 0 });
    expect(rows[1]).toMatchObject({ timeouts: 1 });
    ra.close();
    a.close();
    b.close();
  });

  it('computes p50 / p95 / max from latency buckets', () => {
    const cdb = openDatabase(tempDir());
    const r = new StatsRecorder(cdb);
    for (let i = 0; i < 90; i++) r.latency('s', 20); // bucket ≤25
    for (let i = 0; i < 10; i++) r.latency('s', 400); // bucket ≤500
    r.latency('s', 90_000); // slower than every bucket
    r.close();
    const [s] = readStats(cdb);
    expect(s!.latency).toMatchObject({ count: 101, p50Ms: 25, p95Ms: 500, maxMs: 90_000 });
    cdb.close();
  });
});

describe('CatalogStore', () => {
  it('stores and returns a child catalog by fingerprint', () => {
    const cdb = openDatabase(tempDir());
    const c = new CatalogStore(cdb);
    expect(c.get('fp')).toBeUndefined();
    const data = { tools: [{ name: 'search', inputSchema: { type: 'object' } }], prompts: [] };
    expect(c.put('fp', 'ctx7', data, 1234)).toBe(true);
    expect(c.get('fp')).toEqual({ data, fetchedAt: 1234 });
    c.put('fp', 'ctx7', { tools: [] }, 5678);
    expect(c.get('fp')).toEqual({ data: { tools: [] }, fetchedAt: 5678 });
    cdb.close();
  });
});
