#!/usr/bin/env node
// A/B of the fast path (issue 13) on one build: the fixture child alone (a), mcpx with the fast path
// (b), and mcpx with MCPX_FASTPATH=0 (c, every request through the SDK Server and Client), in
// interleaved rounds. Per round: uncached instant calls (sequential p50), 8 in flight (calls/s), and
// the warm tools/list (p50 of sequential lists once every child is up). Prints medians [min–max] and
// the per-round ratios. usage: npm run build && node bench/fastpath.mjs [rounds]
import { rmSync } from 'node:fs';
import { z } from 'zod';
import { SERVERS, concurrent, directTarget, echo, listUntil, mcpxTarget, median, sequential, shutdown, start, workspace } from './lib.mjs';

const rounds = Number(process.argv[2] ?? 5);
const N = { warm: 200, seq: 500, thr: 2000, lists: 100 };
const ws = workspace();

// The list taken as it is (no schema): the figure is the server's, not the client's validation of 4× the tools.
const Anything = z.any();
async function lists(client, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await client.request({ method: 'tools/list' }, Anything);
    out.push(performance.now() - t);
  }
  return median(out);
}

async function measure(target, tool, prefixes) {
  const s = await start(target);
  if (prefixes) await listUntil(s.client, prefixes);
  await sequential(s.client, N.warm, (i) => echo(tool, `warm ${i}`));
  const seq = median(await sequential(s.client, N.seq, (i) => echo(tool, `seq ${i}`)));
  const cps8 = await concurrent(s.client, N.thr, 8, (i) => echo(tool, `c8 ${i}`));
  const list = await lists(s.client, N.lists);
  await shutdown(s);
  return { seq, cps8, list };
}

const withFast = (on) => {
  const t = mcpxTarget(ws, on ? 'fast' : 'sdk');
  return { ...t, env: { ...t.env, MCPX_FASTPATH: on ? '1' : '0' } };
};
await measure(withFast(true), 'notion__echo', SERVERS); // warms the stored catalogs
const rows = [];
for (let r = 0; r < rounds; r++) {
  const a = await measure(directTarget(), 'echo');
  const b = await measure(withFast(true), 'notion__echo', SERVERS);
  const c = await measure(withFast(false), 'notion__echo', SERVERS);
  rows.push({ a, b, c });
  console.error(`round ${r + 1}/${rounds}: seq p50 ${a.seq.toFixed(2)} / ${b.seq.toFixed(2)} / ${c.seq.toFixed(2)} ms, 8 in flight ${a.cps8 | 0} / ${b.cps8 | 0} / ${c.cps8 | 0} /s, list ${a.list.toFixed(2)} / ${b.list.toFixed(2)} / ${c.list.toFixed(2)} ms`);
}
rmSync(ws, { recursive: true, force: true });
const fmt = (xs, d = 2) => `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`;
console.log(`| figure | direct (a) | fast path (b) | SDK path (c) | b/a | c/a |\n| --- | --- | --- | --- | --- | --- |`);
for (const [k, label, d] of [['seq', 'uncached call p50 (ms)', 2], ['cps8', 'uncached, 8 in flight (calls/s)', 0], ['list', 'warm tools/list p50 (ms)', 2]]) {
  const col = (w) => rows.map((x) => x[w][k]);
  const ratio = (w) => rows.map((x) => x[w][k] / x.a[k]);
  console.log(`| ${label} | ${fmt(col('a'), d)} | ${fmt(col('b'), d)} | ${fmt(col('c'), d)} | ${fmt(ratio('b'))} | ${fmt(ratio('c'))} |`);
}
