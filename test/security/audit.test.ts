// The audit trail — args modes, filters, batching, retention, the schema step. Real serve
// processes and real SQLite files in temp dirs.
import { chmodSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { execa } from 'execa';
import { describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../../src/cache/db.js';
import { migrate, MIGRATIONS, SCHEMA_VERSION, userVersion } from '../../src/cache/migrations.js';
import { EventEmitter } from 'node:events';
import { AuditLog, readAudit, recordAudit, redactArgs, type AuditEvent } from '../../src/telemetry/audit.js';
import type { CallEvent } from '../../src/pipeline/call.js';
import { Logger } from '../../src/util/log.js';
import { rawJson } from '../../src/util/raw-json.js';
import { MCPX, fixture, startMcpx, tempDir, waitFor } from '../helpers/mcpx.js';
import { isRunning } from '../../src/util/proc.js';
import { localCaller } from '../../src/util/caller.js';
import { ROOT, runNode } from '../cache/helpers.js';

interface Rec { server: string; name: string; outcome: string; argsHash: string | null; argsRedacted: string | null }

function cli(dir: string, ...args: string[]) {
  return execa(process.execPath, [MCPX, ...args], {
    cwd: dir, reject: false,
    env: { MCPX_CONFIG: '', NO_COLOR: '1', MCPX_STATE_DIR: join(dir, 'state'), MCPX_CACHE_DIR: join(dir, 'cache') },
  });
}

/** Runs a serve session with `audit`, makes the calls, waits for serve to exit (its last batch is written on close). */
async function session(audit: unknown, calls: (c: Awaited<ReturnType<typeof startMcpx>>['client']) => Promise<void>, dotenv = '') {
  const dir = tempDir('mcpx-audit-');
  if (dotenv) writeFileSync(join(dir, '.env'), dotenv);
  const m = await startMcpx({ audit, mcpServers: { a: fixture('a', { API_TOKEN: '${SECRET_TOKEN:-none}' }), b: fixture('b', {}, { cache: { ttl: '1h' } }) } }, { dir });
  await calls(m.client);
  await m.close();
  await waitFor(() => !isRunning(m.pid), 8000, 'serve to exit');
  return dir;
}

async function records(dir: string, ...flags: string[]): Promise<Rec[]> {
  const r = await cli(dir, 'audit', '--json', ...flags);
  expect(r.exitCode, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { records: Rec[] }).records;
}

describe('audit trail', () => {
  it('"args": "none" stores neither a hash nor the args; filters by server, outcome and since', async () => {
    const dir = await session({ args: 'none' }, async (c) => {
      await c.callTool({ name: 'a__write', arguments: { value: 'first' } });
      await c.callTool({ name: 'a__fail', arguments: {} });
      await c.callTool({ name: 'b__echo', arguments: { text: 'x' } });
      await c.callTool({ name: 'b__echo', arguments: { text: 'x' } });
    });
    const all = await records(dir);
    expect(all.map((r) => `${r.server} ${r.name} ${r.outcome}`)).toEqual(['b echo hit', 'b echo ok', 'a fail error', 'a write ok']);
    expect(all.every((r) => r.argsHash === null && r.argsRedacted === null)).toBe(true);
    expect((await records(dir, '--server', 'a')).map((r) => r.name)).toEqual(['fail', 'write']);
    expect((await records(dir, '--outcome', 'hit')).map((r) => r.server)).toEqual(['b']);
    expect(await records(dir, '--since', '1h', '--limit', '2')).toHaveLength(2);

    const text = await cli(dir, 'audit');
    expect(text.exitCode, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^\S+ \S+ +local:\S+ +b +tool +echo +hit +\d+ ms/m); // the caller over stdio: the local user
    expect(all.every((r) => (r as { caller?: unknown }).caller === localCaller())).toBe(true);
    expect(text.stdout).toContain('4 record(s), newest first');

    const bad = await cli(dir, 'audit', '--since', 'yesterday');
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--since must be a duration');
    expect((await cli(dir, 'audit', '--outcome', 'nope')).exitCode).toBe(2);
  });

  it('"args": "redacted" keeps the args with secret values and values under secret-looking keys masked', async () => {
    const token = `tok-${randomUUID()}`;
    const dir = await session(
      { args: 'redacted' },
      async (c) => {
        await c.callTool({ name: 'a__write', arguments: { value: `use ${token} here`, password: 'hunter2-long', nested: { apiKey: 'k-123456', q: 'plain' } } });
      },
      `SECRET_TOKEN=${token}\n`,
    );
    const [r] = await records(dir);
    expect(r!.argsHash).toBeNull();
    expect(JSON.parse(r!.argsRedacted!)).toEqual({ nested: { apiKey: '****', q: 'plain' }, password: '****', value: 'use **** here' });
    const out = await cli(dir, 'audit', '--json');
    expect(out.stdout).not.toContain(token);
  });

  it('the default "hash" stores sha256 of the canonical JSON args: key order does not matter', async () => {
    const dir = await session(undefined, async (c) => {
      await c.callTool({ name: 'a__write', arguments: { x: 1, y: 'two' } });
      await c.callTool({ name: 'a__write', arguments: { y: 'two', x: 1 } });
      await c.callTool({ name: 'a__write', arguments: { x: 2, y: 'two' } });
    });
    const [third, second, first] = await records(dir);
    expect(first!.argsHash).toMatch(/^[0-9a-f]{64}$/);
    expect(second!.argsHash).toBe(first!.argsHash);
    expect(third!.argsHash).not.toBe(first!.argsHash);
    expect(first!.argsRedacted).toBeNull();
  });

  it('writes in batches (nothing per call), and prunes records older than retentionDays', () => {
    const dir = tempDir('mcpx-audit-mod-');
    const cdb = openDatabase(dir);
    const audit = new AuditLog(cdb, { args: 'hash', retentionDays: 1 }, { flushMs: 60_000, firstPruneMs: 60_000 });
    const e = (name: string): CallEvent => ({ server: 's', kind: 'tool', name, args: { q: name }, outcome: 'ok', cacheable: true, ms: 3.2, result: { content: [] } });
    const now = Date.now();
    audit.record(e('old'), now - 3 * 86_400_000);
    audit.record(e('recent'), now - 3_600_000);
    audit.record(e('new'), now);
    expect(readAudit(cdb.db)).toHaveLength(0); // batched: not written yet
    audit.flush();
    expect(readAudit(cdb.db).map((r) => r.name)).toEqual(['new', 'recent', 'old']);
    expect(readAudit(cdb.db)[0]).toMatchObject({ pid: process.pid, server: 's', kind: 'tool', outcome: 'ok', durationMs: 3.2, resultBytes: 14 });
    expect(audit.prune(now)).toBe(1);
    expect(readAudit(cdb.db).map((r) => r.name)).toEqual(['new', 'recent']);
    expect(readAudit(cdb.db, { since: now - 60_000 }).map((r) => r.name)).toEqual(['new']);
    audit.record(e('at-close'));
    audit.close(); // the last batch is written on close
    expect(readAudit(cdb.db)).toHaveLength(3);
    cdb.close();
  });

  it("measures an answer that has the child's own text when it is recorded, in UTF-8 bytes, and keeps no hold on it until the flush", () => {
    const cdb = openDatabase(tempDir('mcpx-audit-raw-'));
    const audit = new AuditLog(cdb, { args: 'hash', retentionDays: 30 }, { flushMs: 60_000, firstPruneMs: 60_000 });
    const text = '{"content":[{"type":"text","text":"héllo ✓"}]}';
    const result = JSON.parse(text);
    rawJson.set(result, text);
    const event: CallEvent = { server: 's', kind: 'tool', name: 't', args: {}, outcome: 'ok', cacheable: false, ms: 1, result };
    audit.record(event);
    rawJson.delete(result); // what is kept must not need the answer any more
    result.content = [];
    expect(event.result).toBe(result); // the pipeline's event is not changed
    audit.flush();
    expect(readAudit(cdb.db)[0]!.resultBytes).toBe(Buffer.byteLength(text, 'utf8'));
    audit.close();
    cdb.close();
  });

  it('writes a batch at most flushMs after its first event, keeps no timer while no call comes, and retries a busy database without new calls', () => {
    const dir = tempDir('mcpx-audit-timer-');
    const cdb = openDatabase(dir);
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] });
    try {
      const audit = new AuditLog(cdb, { args: 'hash', retentionDays: 30 }, { flushMs: 50, firstPruneMs: 60_000 });
      const idle = vi.getTimerCount(); // the prune timers
      const e = (name: string): CallEvent => ({ server: 's', kind: 'tool', name, args: {}, outcome: 'ok', cacheable: false, ms: 1 });
      audit.record(e('a'));
      audit.record(e('b'));
      expect(vi.getTimerCount()).toBe(idle + 1); // one timer for the batch, not one per event
      vi.advanceTimersByTime(49);
      expect(readAudit(cdb.db)).toHaveLength(0);
      vi.advanceTimersByTime(1);
      expect(readAudit(cdb.db).map((r) => r.name)).toEqual(['b', 'a']);
      expect(vi.getTimerCount()).toBe(idle); // nothing waits: no timer

      // Another connection holds the write lock: the batch stays, and is written once the lock is free, with no new call.
      const holder = new Database(join(dir, 'cache.db'));
      holder.exec('BEGIN EXCLUSIVE');
      audit.record(e('c'));
      vi.advanceTimersByTime(50);
      expect(audit.waiting).toBe(1);
      holder.exec('COMMIT');
      holder.close();
      vi.advanceTimersByTime(1000);
      expect(audit.waiting).toBe(0);
      expect(readAudit(cdb.db)).toHaveLength(3);
      audit.close();
    } finally {
      vi.useRealTimers();
      cdb.close();
    }
  });

  it('schema step 2 adds the audit table (with its ts index) to a version-1 database', () => {
    const dir = tempDir('mcpx-audit-mig-');
    const raw = new Database(join(dir, 'cache.db'));
    migrate(raw, MIGRATIONS.slice(0, 1));
    expect(userVersion(raw)).toBe(1);
    raw.close();
    const cdb = openDatabase(dir);
    expect(userVersion(cdb.db)).toBe(SCHEMA_VERSION); // steps 2 and on applied
    const idx = cdb.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit'").all();
    expect(idx).toEqual([{ name: 'audit_ts' }]);
    cdb.close();
  });

  it('a cache.db and a log file left readable by others (an older mcpx) are tightened to 0600', async () => {
    const dir = tempDir('mcpx-modes-');
    const cdb0 = openDatabase(dir);
    cdb0.close();
    chmodSync(join(dir, 'cache.db'), 0o644);
    openDatabase(dir).close();
    expect(statSync(join(dir, 'cache.db')).mode & 0o777).toBe(0o600);

    mkdirSync(join(dir, 'state'), { mode: 0o700 });
    writeFileSync(join(dir, 'state', 'x.log'), 'old\n', { mode: 0o644 });
    chmodSync(join(dir, 'state', 'x.log'), 0o644);
    const log = new Logger('silent');
    log.toFile(join(dir, 'state', 'x.log'));
    log.info('new');
    await log.close();
    expect(statSync(join(dir, 'state', 'x.log')).mode & 0o777).toBe(0o600);
  });

  it('redactArgs masks registered secrets anywhere and values under secret-looking keys', () => {
    const log = new Logger('silent');
    log.addSecret('s3cr3t-value');
    expect(redactArgs({ q: 'a s3cr3t-value b', list: ['s3cr3t-value', 1], Authorization: 'x', token: { deep: 1 }, n: 5 }, log)).toEqual({
      q: 'a **** b', list: ['****', 1], Authorization: '****', token: '****', n: 5,
    });
  });

  it('holds a bounded amount of memory while its writes fail, counts what it drops, warns once', async () => {
    const dir = tempDir('mcpx-audit-mem-');
    // 12 000 calls with 16 KB answers: 190 MB if the unwritten events kept their answers.
    const r = await runNode(['--expose-gc', join(ROOT, 'test/fixtures/cache/audit-memory.mjs'), dir, '12000', '16']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { heapGrowthMb: number; waiting: number; dropped: number; writtenAfter: number };
    console.log(`audit with failing writes: heap +${out.heapGrowthMb.toFixed(1)} MB for 12 000 unwritten records`);
    expect(out.heapGrowthMb).toBeLessThan(40); // rows (hash, sizes), not the answers
    expect(out).toMatchObject({ waiting: 10_000, dropped: 2000, writtenAfter: 10_000 });
    const warnings = r.stderr.split('\n').filter((l) => l.includes('warn'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/audit: could not write .* keeping up to 10000 in memory/);
    expect(r.stderr).toMatch(/writing to .*cache\.db again \(2000 record\(s\) lost meanwhile\)/);
  });

  it('records a cancelled call from the pipeline\'s call event (outcome "cancelled")', () => {
    const cdb = openDatabase(tempDir('mcpx-audit-cancel-'));
    const audit = new AuditLog(cdb, { args: 'hash', retentionDays: 30 }, { flushMs: 60_000, firstPruneMs: 60_000 });
    const pipeline = new EventEmitter<{ call: [AuditEvent] }>();
    const stop = recordAudit(pipeline, audit);
    pipeline.emit('call', { server: 's', kind: 'tool', name: 'slow', args: { q: 1 }, outcome: 'cancelled', cacheable: true, ms: 1234.5 });
    audit.flush();
    expect(readAudit(cdb.db)).toEqual([expect.objectContaining({ server: 's', name: 'slow', outcome: 'cancelled', durationMs: 1234.5, reason: null, error: null, resultBytes: null })]);
    stop();
    pipeline.emit('call', { server: 's', kind: 'tool', name: 'after', args: {}, outcome: 'cancelled', cacheable: true, ms: 1 });
    audit.close();
    expect(readAudit(cdb.db)).toHaveLength(1);
    cdb.close();
  });
});
