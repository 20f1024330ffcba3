#!/usr/bin/env node
// What the second pipe hop alone costs: the fixture child directly (a), the child behind a proxy that
// copies bytes without reading them (p, bench/pipe-proxy.mjs), and the child behind mcpx (b), in
// interleaved rounds: uncached instant calls (sequential p50) and 8 in flight (calls/s). p/a is the
// floor for b/a on this machine: no proxy that is a process of its own can do better.
// usage: npm run build && node bench/floor.mjs [rounds]
import { rmSync } from 'node:fs';
import { SERVERS, callFigures, copierTarget, directTarget, mcpxTarget, median, workspace } from './lib.mjs';

const rounds = Number(process.argv[2] ?? 5);
const N = { warm: 200, seq: 500, thr: 2000 };
const ws = workspace();

const measure = (target, tool, prefixes) => callFigures(target, tool, prefixes, N);

await measure(mcpxTarget(ws, 'floor'), 'notion__echo', SERVERS); // warms the stored catalogs
const rows = [];
for (let r = 0; r < rounds; r++) {
  const a = await measure(directTarget(), 'echo');
  const p = await measure(copierTarget(), 'echo');
  const b = await measure(mcpxTarget(ws, 'floor'), 'notion__echo', SERVERS);
  rows.push({ a, p, b });
  console.error(`round ${r + 1}/${rounds}: seq p50 ${a.seq.toFixed(2)} / ${p.seq.toFixed(2)} / ${b.seq.toFixed(2)} ms, 8 in flight ${a.cps8 | 0} / ${p.cps8 | 0} / ${b.cps8 | 0} /s`);
}
rmSync(ws, { recursive: true, force: true });
const fmt = (xs, d = 2) => `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`;
console.log(`| figure | direct (a) | byte-copying proxy (p) | mcpx (b) | p/a | b/a | b/p |\n| --- | --- | --- | --- | --- | --- | --- |`);
for (const [k, label, d] of [['seq', 'uncached call p50 (ms)', 2], ['cps8', 'uncached, 8 in flight (calls/s)', 0]]) {
  const col = (w) => rows.map((x) => x[w][k]);
  const ratio = (w, v) => rows.map((x) => x[w][k] / x[v][k]);
  console.log(`| ${label} | ${fmt(col('a'), d)} | ${fmt(col('p'), d)} | ${fmt(col('b'), d)} | ${fmt(ratio('p', 'a'))} | ${fmt(ratio('b', 'a'))} | ${fmt(ratio('b', 'p'))} |`);
}
