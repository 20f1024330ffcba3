#!/usr/bin/env node
// `npm run bench`: mcpx against the child it fronts, both spawned as real processes over stdio and
// driven by the SDK client. Targets: (a) the fixture child alone, (b) `mcpx serve` with four children
// (docs, confluence behind an npx-style wrapper, notion with cache off, `mcpx standards`).
// Rounds are interleaved (a, b, a, b, …); each figure is the median over rounds [min–max], ratios b/a
// are per-round ratios (a and b measured moments apart), then their median.
// Prints a table; writes bench/results/latest.json. BENCH_QUICK=1: fewer rounds and calls (~1 min).
// ROUNDS=n overrides the number of rounds. Build first (`npm run bench` does).
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import {
  MARK, ROOT, SERVERS, call, childCommands, concurrent, directTarget, echo, failFile, listUntil, lists, mcpxTarget, median, memory,
  processesWith, quantile, sequential, shutdown, start as startTarget, workspace,
} from './lib.mjs';

/** The last session started: its stderr is printed when the bench fails. */
let last;
const start = async (target) => (last = await startTarget(target));

const QUICK = process.env.BENCH_QUICK === '1';
const ROUNDS = Number(process.env.ROUNDS ?? (QUICK ? 3 : 5));
const N = QUICK
  ? { warm: 200, seq: 300, thr: 1500, slow: 10, breaker: 100, mem: 10_000, mem50: 0, lists: 50 }
  : { warm: 300, seq: 1000, thr: 3000, slow: 20, breaker: 200, mem: 10_000, mem50: 50_000, lists: 100 };

const log = (...a) => console.error(...a);
const tBench = performance.now();
const load0 = loadavg();
const ws = workspace();
const results = { rounds: [] };
let exitCode = 0;

try {
  await setup();
  for (let r = 0; r < ROUNDS; r++) {
    log(`round ${r + 1}/${ROUNDS} (load ${loadavg()[0].toFixed(2)})`);
    const a = await roundDirect();
    const b = await roundMcpx();
    const slow = await roundSlowStart();
    const mem = await roundMemory();
    results.rounds.push({ a, b, slow, mem });
  }
  if (N.mem50) results.growth = await memoryGrowth();
  report();
} catch (e) {
  log(`bench failed: ${e.stack ?? e}`);
  if (last) log(`stderr of the last process started (${last.transport.pid}):\n${last.stderr()}`);
  exitCode = 1;
} finally {
  const left = processesWith(MARK);
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  console.log(`\nprocesses left behind (marker ${MARK}): ${left.length}`);
  if (left.length) exitCode = 1;
  rmSync(ws, { recursive: true, force: true });
  log(`total ${((performance.now() - tBench) / 1000).toFixed(1)} s`);
  process.exitCode = exitCode;
}

/** Tools/list payload of each child alone, and a first run of each mcpx config so its catalog is stored. */
async function setup() {
  const children = childCommands(ws);
  results.payload = { children: {} };
  for (const name of SERVERS) {
    const s = await start({ kind: 'child', ...children[name] });
    await s.client.listTools();
    results.payload.children[name] = s.sizes.tools.map((t) => ({ name: t.name, bytes: Buffer.byteLength(JSON.stringify(t)) }));
    await shutdown(s);
  }
  log('warming the catalogs (the slow child takes 5 s once)');
  for (const [name, opts] of [['main', {}], ['slow', { slowStart: true }]]) {
    const s = await start(mcpxTarget(ws, name, opts));
    await listUntil(s.client, SERVERS);
    await shutdown(s);
  }
}

async function roundDirect() {
  const s = await start(directTarget());
  const out = { initMs: s.initMs };
  await s.client.listTools();
  out.listedMs = performance.now() - s.t0;
  await sequential(s.client, N.warm, (i) => echo('echo', `warm ${i}`));
  const lat = await sequential(s.client, N.seq, (i) => echo('echo', `seq ${i}`));
  out.echo = { p50: median(lat), p99: quantile(lat, 0.99) };
  const w = await sequential(s.client, N.seq, (i) => ({ name: 'write', arguments: { value: `v${i}` } }));
  out.write = { p50: median(w), p99: quantile(w, 0.99) };
  out.cps8 = await concurrent(s.client, N.thr, 8, (i) => echo('echo', `c8 ${i}`));
  out.cps16 = await concurrent(s.client, N.thr, 16, (i) => echo('echo', `c16 ${i}`));
  out.list = await lists(s.client, N.lists);
  const slow = await sequential(s.client, N.slow, { name: 'slow', arguments: { ms: 50 } });
  out.slow50 = { p50: median(slow) };
  out.shutdown = await shutdown(s);
  return out;
}

async function roundMcpx() {
  const s = await start(mcpxTarget(ws, 'main'));
  const out = { initMs: s.initMs, pid: s.pid };
  const tools = await listUntil(s.client, SERVERS);
  out.listedMs = performance.now() - s.t0;
  out.toolsPayload = s.sizes.tools.map((t) => ({ name: t.name, bytes: Buffer.byteLength(JSON.stringify(t)) }));
  out.toolCount = tools.length;

  // Uncached instant tool: notion has cache off.
  await sequential(s.client, N.warm, (i) => echo('notion__echo', `warm ${i}`));
  const lat = await sequential(s.client, N.seq, (i) => echo('notion__echo', `seq ${i}`));
  out.echo = { p50: median(lat), p99: quantile(lat, 0.99) };
  // write on a child with cache on: not read-only, so it also drops that child's cache entries (invalidateOnWrite).
  const w = await sequential(s.client, N.seq, (i) => ({ name: 'docs__write', arguments: { value: `v${i}` } }));
  out.write = { p50: median(w), p99: quantile(w, 0.99) };
  out.cps8 = await concurrent(s.client, N.thr, 8, (i) => echo('notion__echo', `c8 ${i}`));
  out.list = await lists(s.client, N.lists); // warm: every child up, the merged list known

  // Cache hits: docs echo is read-only; the first call stores it.
  await call(s.client, echo('docs__echo', 'hit me'));
  const hit = await call(s.client, echo('docs__echo', 'hit me'));
  if (hit._meta?.['mcpx/cache']?.status !== 'hit') throw new Error(`expected a cache hit, got ${JSON.stringify(hit._meta)}`);
  await sequential(s.client, N.warm, echo('docs__echo', 'hit me'));
  const hits = await sequential(s.client, N.seq, echo('docs__echo', 'hit me'));
  out.hit = { p50: median(hits), p99: quantile(hits, 0.99) };
  out.hitCps16 = await concurrent(s.client, N.thr, 16, echo('docs__echo', 'hit me'));

  // Breaker: confluence fails (FAIL_FILE), three failures open it (threshold 3, recovery 10 min).
  writeFileSync(failFile(ws), 'down');
  for (let i = 0; i < 3; i++) await s.client.callTool({ name: 'confluence__search', arguments: { query: `open ${i}` } });
  const open = await s.client.callTool({ name: 'confluence__search', arguments: { query: 'probe' } });
  if (!/circuit open/.test(open.content?.[0]?.text ?? '')) throw new Error(`breaker not open: ${JSON.stringify(open.content)}`);
  const br = [];
  for (let i = 0; i < N.breaker; i++) {
    const t = performance.now();
    await s.client.callTool({ name: 'confluence__search', arguments: { query: `q ${i}` } });
    br.push(performance.now() - t);
  }
  out.breaker = { p50: median(br), p99: quantile(br, 0.99) };
  unlinkSync(failFile(ws));

  out.shutdown = await shutdown(s);
  return out;
}

/** Warm catalog, notion 5 s slow to start: spawn → the tools of all four listed. */
async function roundSlowStart() {
  const s = await start(mcpxTarget(ws, 'slow', { slowStart: true }));
  await listUntil(s.client, SERVERS);
  const out = { initMs: s.initMs, listedMs: performance.now() - s.t0 };
  out.shutdown = await shutdown(s); // notion is still starting: stopping it takes the SIGTERM step
  return out;
}

/** Peak RSS after N.mem calls (8 in flight, distinct arguments): the child alone vs the mcpx process alone. */
async function roundMemory() {
  const a = await start(directTarget());
  await concurrent(a.client, N.mem, 8, (i) => echo('echo', `m ${i}`));
  const am = memory(a.pid);
  await shutdown(a);
  const b = await start(mcpxTarget(ws, 'main'));
  await listUntil(b.client, SERVERS);
  await concurrent(b.client, N.mem, 8, (i) => echo('notion__echo', `m ${i}`));
  const bm = memory(b.pid);
  await shutdown(b);
  return { a: am, b: bm };
}

/**
 * One mcpx process: memory after 10,000 calls and after 50,000; then the same with the V8 heap capped
 * at 40 MB, which tells retained memory (the process dies of heap exhaustion) from a heap V8 merely
 * let grow (RSS stays flat).
 */
async function memoryGrowth() {
  const run = async (nodeArgs) => {
    log(`memory growth: ${N.mem50} calls ${nodeArgs.join(' ')}`);
    const b = await start(mcpxTarget(ws, 'main', { nodeArgs }));
    await listUntil(b.client, SERVERS);
    await concurrent(b.client, N.mem, 8, (i) => echo('notion__echo', `g ${i}`));
    const at10k = memory(b.pid);
    await concurrent(b.client, N.mem50 - N.mem, 8, (i) => echo('notion__echo', `g ${N.mem + i}`));
    const at50k = memory(b.pid);
    await shutdown(b);
    return { at10k, at50k };
  };
  const growth = await run([]);
  growth.capped = await run(['--max-old-space-size=40']).catch((e) => ({ failed: String(e.message ?? e) }));
  return growth;
}

function report() {
  const R = results.rounds;
  const stat = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), values: xs });
  const get = (f) => stat(R.map(f));
  const ratio = (fb, fa) => stat(R.map((r) => fb(r) / fa(r)));

  const pay = results.payload;
  const childBytes = Object.values(pay.children).flat().reduce((n, t) => n + t.bytes, 0);
  const b0 = R[0].b;
  const status = b0.toolsPayload.find((t) => t.name === 'mcpx__status');
  const mcpxBytes = b0.toolsPayload.filter((t) => t !== status).reduce((n, t) => n + t.bytes, 0);
  const prefixBytes = Object.entries(pay.children).reduce((n, [name, tools]) => n + tools.length * (name.length + 2), 0);

  const F = [];
  const add = (f) => F.push(f);
  add({ id: 'startup-initialize', figure: 'start-up: spawn → initialize answered (ms)', b: get((r) => r.b.initMs), a: get((r) => r.a.initMs),
    ratio: ratio((r) => r.b.initMs, (r) => r.a.initMs), goal: 'ratio ≤ 0.8', met: (x) => x.ratio.median <= 0.8 });
  add({ id: 'startup-listed-slow-child', figure: 'start-up: spawn → 4 children\'s tools listed, warm catalog, one child 5 s slow (ms)',
    b: get((r) => r.slow.listedMs), a: get((r) => r.a.listedMs), aLabel: 'direct: spawn → tools listed',
    ratio: ratio((r) => r.slow.listedMs, (r) => r.a.listedMs), goal: 'ratio ≤ 1.0 (and ≪ 5 s)', met: (x) => x.ratio.median <= 1.0 && x.b.max < 5000,
    note: `same without the slow child: ${fmt(get((r) => r.b.listedMs))} ms` });
  add({ id: 'call-p50', figure: 'per call, instant tool, not cached, sequential: p50 (ms)', b: get((r) => r.b.echo.p50), a: get((r) => r.a.echo.p50),
    ratio: ratio((r) => r.b.echo.p50, (r) => r.a.echo.p50), goal: 'ratio ≤ 1.3', met: (x) => x.ratio.median <= 1.3 });
  add({ id: 'call-p99', figure: '  … p99 (ms)', b: get((r) => r.b.echo.p99), a: get((r) => r.a.echo.p99),
    ratio: ratio((r) => r.b.echo.p99, (r) => r.a.echo.p99), goal: '(reported)' });
  add({ id: 'write-p50', figure: '  write (not read-only; drops the child\'s cache entries): p50 (ms)', b: get((r) => r.b.write.p50), a: get((r) => r.a.write.p50),
    ratio: ratio((r) => r.b.write.p50, (r) => r.a.write.p50), goal: '(reported)' });
  add({ id: 'throughput-8', figure: 'throughput, instant tool, not cached, 8 in flight (calls/s)', b: get((r) => r.b.cps8), a: get((r) => r.a.cps8),
    ratio: ratio((r) => r.b.cps8, (r) => r.a.cps8), goal: 'ratio ≥ 0.8', met: (x) => x.ratio.median >= 0.8 });
  add({ id: 'tools-list-warm', figure: 'warm tools/list (every child up): p50 (ms), four children merged vs one child', b: get((r) => r.b.list), a: get((r) => r.a.list),
    ratio: ratio((r) => r.b.list, (r) => r.a.list), goal: 'ratio ≤ 2', met: (x) => x.ratio.median <= 2 });
  add({ id: 'hit-p50', figure: 'cache hit, sequential: p50 (ms) vs direct instant call', b: get((r) => r.b.hit.p50), a: get((r) => r.a.echo.p50),
    ratio: ratio((r) => r.b.hit.p50, (r) => r.a.echo.p50), goal: 'ratio ≤ 0.7', met: (x) => x.ratio.median <= 0.7 });
  add({ id: 'hit-p99', figure: '  … p99 (ms)', b: get((r) => r.b.hit.p99), a: get((r) => r.a.echo.p99),
    ratio: ratio((r) => r.b.hit.p99, (r) => r.a.echo.p99), goal: '(reported)' });
  add({ id: 'hit-vs-slow', figure: 'cache hit vs direct call of a 50 ms tool (p50, ms; ratio = how many times faster)', b: get((r) => r.b.hit.p50), a: get((r) => r.a.slow50.p50),
    ratio: ratio((r) => r.a.slow50.p50, (r) => r.b.hit.p50), goal: '≥ 50× faster', met: (x) => x.ratio.median >= 50 });
  add({ id: 'hit-throughput-16', figure: 'cache hits, 16 in flight (calls/s) vs direct uncached instant, 16 in flight', b: get((r) => r.b.hitCps16), a: get((r) => r.a.cps16),
    ratio: ratio((r) => r.b.hitCps16, (r) => r.a.cps16), goal: 'ratio ≥ 2', met: (x) => x.ratio.median >= 2,
    note: `vs direct at 8 in flight: ${fmt(ratio((r) => r.b.hitCps16, (r) => r.a.cps8), 2)}` });
  add({ id: 'memory-10k', figure: `memory: peak RSS (VmHWM) after ${N.mem.toLocaleString('en')} calls (MB), mcpx process alone vs the child alone`,
    b: get((r) => r.mem.b.hwmMb), a: get((r) => r.mem.a.hwmMb), ratio: ratio((r) => r.mem.b.hwmMb, (r) => r.mem.a.hwmMb), goal: 'ratio ≤ 1.1', met: (x) => x.ratio.median <= 1.1 });
  if (results.growth) {
    const g = results.growth;
    const one = (v) => stat([v]);
    add({ id: 'memory-growth', figure: 'memory: VmHWM after 50,000 calls vs after 10,000 (MB; same process)', b: one(g.at50k.hwmMb), a: one(g.at10k.hwmMb), aLabel: 'after 10,000',
      ratio: one(g.at50k.hwmMb / g.at10k.hwmMb), goal: 'no growth (≤ 1.05)', met: (x) => x.ratio.median <= 1.05,
      note: `VmRSS ${g.at10k.rssMb.toFixed(1)} → ${g.at50k.rssMb.toFixed(1)} MB; heap capped at 40 MB: ${
        g.capped.failed ? `failed (${g.capped.failed})` : `VmHWM ${g.capped.at10k.hwmMb.toFixed(1)} → ${g.capped.at50k.hwmMb.toFixed(1)} MB`}` });
  }
  add({ id: 'shutdown', figure: 'shutdown: stdin closed → every process gone (ms; wrapper + real server included)', b: get((r) => r.b.shutdown.ms), a: get((r) => r.a.shutdown.ms),
    goal: '≤ 500 ms, 0 left', met: (x) => x.b.median <= 500 && R.every((r) => r.b.shutdown.left === 0),
    note: `left: ${R.map((r) => r.b.shutdown.left).join(',')}; with the 5 s child still starting: ${fmt(get((r) => r.slow.shutdown.ms))} ms` });
  add({ id: 'tools-list-bytes', figure: 'tools/list payload, four children (bytes of the tool objects)', b: stat([mcpxBytes]), a: stat([childBytes]), aLabel: 'sum of the children alone',
    ratio: stat([mcpxBytes / childBytes]), goal: 'the sum + the prefixes', met: () => mcpxBytes <= childBytes + prefixBytes,
    note: `+${mcpxBytes - childBytes} B = the "<server>__" name prefixes (${prefixBytes} B); mcpx__status adds ${status?.bytes ?? 0} B` });
  add({ id: 'breaker-open', figure: 'breaker open: a call while it is open, end to end: p50 (ms)', b: get((r) => r.b.breaker.p50), goal: '< 5 ms', met: (x) => x.b.median < 5,
    note: `p99 ${fmt(get((r) => r.b.breaker.p99))} ms` });

  for (const f of F) {
    f.result = f.met ? (f.met(f) ? 'MET' : 'NOT MET') : '';
    delete f.met;
  }
  results.figures = F;
  results.machine = {
    date: new Date().toISOString(),
    nproc: cpus().length,
    cpu: cpus()[0]?.model,
    node: process.version,
    loadAverageAtStart: load0.map((x) => Math.round(x * 100) / 100),
    loadAverageAtEnd: loadavg().map((x) => Math.round(x * 100) / 100),
    quick: QUICK,
    rounds: ROUNDS,
    calls: N,
    durationS: Math.round((performance.now() - tBench) / 100) / 10,
  };

  const rows = F.map((f) => [f.figure, fmt(f.b), f.a ? fmt(f.a) : '', f.ratio ? fmt(f.ratio, 2) : '', f.goal, f.result, f.note ?? '']);
  const head = ['figure', 'mcpx (b)', 'direct (a)', 'b/a', 'goal', '', 'note'];
  console.log(`\nmcpx bench — ${results.machine.date}, ${results.machine.nproc} × ${results.machine.cpu}, Node ${process.version}, load ${results.machine.loadAverageAtStart.join(' ')}, ${ROUNDS} rounds${QUICK ? ' (quick)' : ''}`);
  console.log('values: median over rounds [min–max]\n');
  console.log(markdownTable(head, rows));
  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/latest.json'), JSON.stringify(results, null, 2));
  log('wrote bench/results/latest.json');
}

function fmt(s, digits) {
  const d = (v) => {
    const n = digits ?? (Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
    return v.toFixed(n);
  };
  if (s.values?.length === 1 || s.min === s.max) return d(s.median);
  return `${d(s.median)} [${d(s.min)}–${d(s.max)}]`;
}

function markdownTable(head, rows) {
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}
