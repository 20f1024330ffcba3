// The first call of a new mcpx process against a shared Redis some milliseconds away: is it answered
// from what another process stored? Every Claude Code session is a new process, and its first calls are
// the ones a team cache saves most. Build first; needs redis-server on PATH.
// Usage: node bench/redis-first-call.mjs [processes=10] [one-way delay ms=5] [redis|sqlite]
// (sqlite: the same first calls on one cache file, for comparison: what the first call costs anyway)
import { spawn } from 'node:child_process';
import { connect, createServer } from 'node:net';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'redis';
import { CHILD, MARK, MCPX, median, start, workspace } from './lib.mjs';

const N = Number(process.argv[2] ?? 10);
const DELAY = Number(process.argv[3] ?? 5);
const BACKEND = process.argv[4] ?? 'redis';
const ws = workspace();
const freePort = () => new Promise((res) => { const s = createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => res(p)); }); });

const redisPort = await freePort();
const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', ws], { stdio: 'ignore' });
// Redis `DELAY` ms away each way: every chunk is held that long before it is passed on, in order.
const later = (to) => (chunk) => setTimeout(() => to.destroyed || to.write(chunk), DELAY);
const proxy = createServer((c) => {
  const r = connect(redisPort, '127.0.0.1');
  c.on('data', later(r)); r.on('data', later(c));
  const end = () => (c.destroy(), r.destroy());
  c.on('close', end); r.on('close', end); c.on('error', end); r.on('error', end);
}).listen(0, '127.0.0.1');
await new Promise((r) => proxy.once('listening', r));
const url = `redis://127.0.0.1:${proxy.address().port}/0`;
const admin = createClient({ url: `redis://127.0.0.1:${redisPort}/0` });
for (let i = 0; ; i++) { try { await admin.connect(); break; } catch { if (i > 50) throw new Error('redis-server did not start'); await new Promise((r) => setTimeout(r, 100)); } }

const config = JSON.stringify({ cache: BACKEND === 'redis' ? { backend: 'redis', url } : {}, mcpServers: { docs: { command: process.execPath, args: [CHILD, MARK, 'docs'], env: { NAME: 'docs' }, cache: { ttl: '1h' } } } });
const target = (i) => ({ command: process.execPath, args: [MCPX, 'serve', '--config', join(ws, 'mcpx.json')], env: { MCPX_CACHE_DIR: join(ws, 'cache'), MCPX_STATE_DIR: join(ws, `state${i}`) } });
(await import('node:fs')).writeFileSync(join(ws, 'mcpx.json'), config);

const first = async (i) => {
  const s = await start(target(i));
  await s.client.listTools(); // as Claude Code does before its model can call anything
  // The model's first turn: BENCH_THINK_MS between the list and the first call (default 0: at once).
  await new Promise((r) => setTimeout(r, Number(process.env.BENCH_THINK_MS ?? 0)));
  const t0 = performance.now();
  const r = await s.client.callTool({ name: 'docs__echo', arguments: { text: 'the first question of the day' } });
  const ms = performance.now() - t0;
  await s.client.close();
  const hit = r._meta?.['mcpx/cache']?.status === 'hit';
  if (!hit && process.env.BENCH_VERBOSE) console.log(`miss in process ${i} after ${ms.toFixed(0)} ms:\n${s.stderr()}`);
  return { hit, ms };
};

try {
  await first(0); // one process asks first and stores the answer in Redis
  for (let i = 0; BACKEND === 'redis' && (await admin.keys('mcpx:v1:server:docs')).length === 0; i++) if (i > 100) throw new Error('nothing stored'); else await new Promise((r) => setTimeout(r, 50));
  const runs = [];
  for (let i = 1; i <= N; i++) runs.push(await first(i));
  const hits = runs.filter((r) => r.hit).length;
  console.log(`${BACKEND === 'redis' ? `Redis ${2 * DELAY} ms round trip` : 'one SQLite file'}, ${N} new processes: first call a hit in ${hits}/${N}; first call p50 ${median(runs.map((r) => r.ms)).toFixed(1)} ms, max ${Math.max(...runs.map((r) => r.ms)).toFixed(1)} ms (hits p50 ${median(runs.filter((r) => r.hit).map((r) => r.ms)).toFixed(1)} ms)`);
} finally {
  await admin.quit().catch(() => {});
  proxy.close();
  redis.kill();
  rmSync(ws, { recursive: true, force: true });
}
