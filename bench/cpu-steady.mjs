#!/usr/bin/env node
// The CPU time a long-lived server spends per call once V8 has compiled its hot code: the direct child
// (a) and mcpx (b), after 5,500 warm-up calls (other benches measure after 200, while V8's compiler
// threads are still busy), split into the main thread and the process's other threads (V8's compiler and
// GC helpers, libuv's pool), from /proc/<pid>/task/*/stat. Rounds interleaved; medians [min–max].
// usage: npm run build && node bench/cpu-steady.mjs [rounds]
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { SERVERS, concurrent, directTarget, echo, listUntil, mcpxTarget, median, sequential, shutdown, start, workspace } from './lib.mjs';

const rounds = Number(process.argv[2] ?? 3);
const ws = workspace();

/** CPU ms (user + system) of the main thread and of all the others. */
function threads(pid) {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ');
    const ms = ((Number(f[11]) + Number(f[12])) * 1000) / 100;
    if (tid === String(pid)) main += ms;
    else others += ms;
  }
  return { main, others };
}

async function measure(target, tool, prefixes) {
  const s = await start(target);
  if (prefixes) await listUntil(s.client, prefixes);
  await sequential(s.client, 1500, (i) => echo(tool, `warm ${i}`));
  await concurrent(s.client, 4000, 8, (i) => echo(tool, `warm8 ${i}`));
  const t0 = threads(s.pid);
  await sequential(s.client, 1500, (i) => echo(tool, `seq ${i}`));
  const t1 = threads(s.pid);
  await concurrent(s.client, 8000, 8, (i) => echo(tool, `c8 ${i}`));
  const t2 = threads(s.pid);
  await shutdown(s);
  const per = (a, b, n) => ({ main: ((b.main - a.main) * 1000) / n, others: ((b.others - a.others) * 1000) / n, all: ((b.main + b.others - a.main - a.others) * 1000) / n });
  return { seq: per(t0, t1, 1500), c8: per(t1, t2, 8000) };
}

const rows = [];
for (let r = 0; r < rounds; r++) {
  const a = await measure(directTarget(), 'echo');
  const b = await measure(mcpxTarget(ws, 'steady'), 'notion__echo', SERVERS);
  rows.push({ a, b });
  console.error(`round ${r + 1}/${rounds}: sequential ${a.seq.all.toFixed(0)} / ${b.seq.all.toFixed(0)} µs, 8 in flight ${a.c8.all.toFixed(0)} / ${b.c8.all.toFixed(0)} µs per call`);
}
const fmt = (xs) => `${median(xs).toFixed(0)} [${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}]`;
console.log('| CPU µs per call, after 5,500 warm-up calls | direct child (a): all threads | mcpx (b): all threads | mcpx: main thread | mcpx: other threads |\n| --- | --- | --- | --- | --- |');
for (const [k, label] of [['seq', 'sequential (1,500 calls)'], ['c8', '8 in flight (8,000 calls)']]) {
  console.log(`| ${label} | ${fmt(rows.map((x) => x.a[k].all))} | ${fmt(rows.map((x) => x.b[k].all))} | ${fmt(rows.map((x) => x.b[k].main))} | ${fmt(rows.map((x) => x.b[k].others))} |`);
}
rmSync(ws, { recursive: true, force: true });
