#!/usr/bin/env node
// Memory of one process: the fixture child alone (a) against the `mcpx serve` process in front of the
// four bench children (b), in interleaved rounds. Per round and target: RSS once `initialize` is
// answered, RSS after the first call (mcpx loads the rest of itself and connects the children behind
// its early answers, so this is the process ready to work), then peak RSS (VmHWM, /proc/<pid>/status) after N uncached calls, and the CPU time the process used per
// call. Only the server's own process is read: not the client, not mcpx's children.
// usage: npm run build && node bench/memory.mjs [rounds] [calls] [inflight]
//   defaults: 3 rounds, 10,000 calls, 1 in flight (sequential). BENCH_MCPX_NODE_ARGS='--flag …' adds
//   node flags to the mcpx process (bench/lib.mjs).
import { rmSync } from 'node:fs';
import { SERVERS, concurrent, cpuMs, directTarget, echo, listUntil, mcpxTarget, median, memory, shutdown, start, workspace } from './lib.mjs';

const rounds = Number(process.argv[2] ?? 3);
const calls = Number(process.argv[3] ?? 10_000);
const inflight = Number(process.argv[4] ?? 1);
const ws = workspace();

async function measure(target, tool, prefixes) {
  const s = await start(target);
  const started = memory(s.pid);
  if (prefixes) await listUntil(s.client, prefixes);
  await concurrent(s.client, 1, 1, echo(tool, 'first'));
  const ready = memory(s.pid);
  const cpu0 = cpuMs(s.pid);
  await concurrent(s.client, calls, inflight, (i) => echo(tool, `m ${i}`));
  const cpu = (cpuMs(s.pid) - cpu0) / calls;
  const after = memory(s.pid);
  await shutdown(s);
  return { startMb: started.rssMb, readyMb: ready.rssMb, peakMb: after.hwmMb, rssMb: after.rssMb, cpu };
}

await measure(mcpxTarget(ws, 'memory'), 'notion__echo', SERVERS); // warms the stored catalogs
const rows = [];
for (let r = 0; r < rounds; r++) {
  const a = await measure(directTarget(), 'echo');
  const b = await measure(mcpxTarget(ws, 'memory'), 'notion__echo', SERVERS);
  rows.push({ a, b });
  console.error(`round ${r + 1}/${rounds}: start ${a.startMb.toFixed(1)} / ${b.startMb.toFixed(1)} MB, after 1 call ${a.readyMb.toFixed(1)} / ${b.readyMb.toFixed(1)} MB, peak after ${calls} calls ${a.peakMb.toFixed(1)} / ${b.peakMb.toFixed(1)} MB, CPU per call ${a.cpu.toFixed(3)} / ${b.cpu.toFixed(3)} ms`);
}
rmSync(ws, { recursive: true, force: true });

const fmt = (xs, d = 1) => `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`;
console.log(`${calls.toLocaleString('en')} calls, ${inflight} in flight, ${rounds} rounds, median [min–max]\n| figure | direct child (a) | mcpx (b) | b/a |\n| --- | --- | --- | --- |`);
for (const [k, label, d] of [
  ['startMb', 'RSS when initialize is answered (MB)', 1],
  ['readyMb', 'RSS after the first call (MB)', 1],
  ['peakMb', `peak RSS (VmHWM) after the calls (MB)`, 1],
  ['rssMb', 'RSS after the calls (MB)', 1],
  ['cpu', 'process CPU time per call (ms)', 3],
]) {
  const col = (w) => rows.map((x) => x[w][k]);
  console.log(`| ${label} | ${fmt(col('a'), d)} | ${fmt(col('b'), d)} | ${fmt(rows.map((x) => x.b[k] / x.a[k]), 2)} |`);
}
