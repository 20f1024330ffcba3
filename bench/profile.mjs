#!/usr/bin/env node
// Runs one phase of the bench against `mcpx serve` started under `node --cpu-prof`, then prints the
// top self-time functions of its profile (bench/cpuprofile-top.mjs). Build first.
// usage: node bench/profile.mjs <phase> [outDir]
//   phases: startup (spawn → tools listed, 10 times), calls (uncached instant tool: 3,000 sequential +
//           10,000 with 8 in flight), hits (20,000 cache hits, 16 in flight), memory (20,000 calls, 8 in flight)
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { MARK, ROOT, SERVERS, call, concurrent, echo, listUntil, mcpxTarget, processesWith, sequential, shutdown, start, workspace } from './lib.mjs';

const phase = process.argv[2] ?? 'calls';
const out = process.argv[3] ?? join(tmpdir(), `mcpx-prof-${phase}-${Date.now()}`);
mkdirSync(out, { recursive: true });
const ws = workspace();

// Warm the stored catalog without profiling, then profile the phase.
{
  const s = await start(mcpxTarget(ws, 'main'));
  await listUntil(s.client, SERVERS);
  await shutdown(s);
}
process.env.BENCH_MCPX_NODE_ARGS = `--cpu-prof --cpu-prof-dir=${out}`;
const runs = phase === 'startup' ? 10 : 1;
for (let r = 0; r < runs; r++) {
  const s = await start(mcpxTarget(ws, 'main'));
  await listUntil(s.client, SERVERS);
  if (phase === 'calls') {
    await sequential(s.client, 3000, (i) => echo('notion__echo', `seq ${i}`));
    await concurrent(s.client, 10_000, 8, (i) => echo('notion__echo', `c8 ${i}`));
  } else if (phase === 'hits') {
    await call(s.client, echo('docs__echo', 'hit me'));
    await concurrent(s.client, 20_000, 16, echo('docs__echo', 'hit me'));
  } else if (phase === 'memory') {
    await concurrent(s.client, 20_000, 8, (i) => echo('notion__echo', `m ${i}`));
  }
  await shutdown(s);
}
console.error(`processes left: ${processesWith(MARK).length}; profiles in ${out}`);
rmSync(ws, { recursive: true, force: true });
const files = readdirSync(out).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(out, f));
console.log(execFileSync(process.execPath, [join(ROOT, 'bench/cpuprofile-top.mjs'), '--rows=25', ...files], { encoding: 'utf8' }));
