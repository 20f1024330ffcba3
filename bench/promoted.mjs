#!/usr/bin/env node
// What outlives V8's young generation in the mcpx process during uncached calls: the allocation sites
// (function, file:line) of all that is allocated, and of what only a full GC collected (it survived
// two scavenges, was promoted to the old generation, then died). Garbage promoted per call is what
// grows the old generation, and so peak RSS, between full GCs. A site whose ratio is far above the
// others holds its objects for longer than a call. Sampled (one sample per 4 KiB allocated); optimised
// code may credit an allocation to the function it was inlined into, not always the same in both windows.
// usage: npm run build && node bench/promoted.mjs [calls] [sites]
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, SERVERS, echo, listUntil, mcpxTarget, sequential, shutdown, start, workspace } from './lib.mjs';

const calls = Number(process.argv[2] ?? 10_000);
const top = Number(process.argv[3] ?? 25);
const ws = workspace();
const target = mcpxTarget(ws, 'promoted', { nodeArgs: ['--import', join(ROOT, 'bench/promoted-hook.mjs')] });
const base = (target.env.PROMOTED_PROFILE = join(ws, 'heap'));
const until = async (file) => {
  while (!existsSync(file)) await new Promise((r) => setTimeout(r, 50));
};

const s = await start(target);
await listUntil(s.client, SERVERS);
await sequential(s.client, 500, (i) => echo('notion__echo', `warm ${i}`));
const windows = [];
for (const n of [1, 2]) {
  process.kill(s.pid, 'SIGUSR1');
  await until(`${base}.${n}.started`);
  await sequential(s.client, calls, (i) => echo('notion__echo', `w${n} ${i}`));
  process.kill(s.pid, 'SIGUSR2');
  await until(`${base}.${n}.json`);
  await new Promise((r) => setTimeout(r, 200)); // the write may still be under way
  windows.push(bySite(JSON.parse(readFileSync(`${base}.${n}.json`, 'utf8'))));
}
await shutdown(s);
rmSync(ws, { recursive: true, force: true });

const [all, promoted] = windows;
const kb = (b) => (b / 1024).toFixed(0).padStart(8);
console.log(`${calls.toLocaleString('en')} calls: allocated ${(all.total / calls).toFixed(0)} B per call, promoted then collected by a full GC ${(promoted.total / calls).toFixed(0)} B per call (${((100 * promoted.total) / all.total).toFixed(1)} %)`);
console.log(`${'all KiB'.padStart(8)} ${'promoted'.padStart(8)}  ratio  site`);
for (const [site, bytes] of [...promoted.sites].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  const a = all.sites.get(site) ?? 0;
  console.log(`${kb(a)} ${kb(bytes)}  ${a ? (bytes / a).toFixed(2) : '  - '}  ${site}`);
}

/** Self size summed per allocating function (name, file:line); paths shortened to the package or dist/. */
function bySite(profile) {
  const sites = new Map();
  let total = 0;
  const walk = (node) => {
    const f = node.callFrame;
    const site = `${f.functionName || '(anonymous)'} ${f.url.replace(/^.*\/(node_modules|dist)\//, '')}:${f.lineNumber + 1}`;
    if (node.selfSize) {
      sites.set(site, (sites.get(site) ?? 0) + node.selfSize);
      total += node.selfSize;
    }
    node.children.forEach(walk);
  };
  walk(profile.head);
  return { sites, total };
}
