#!/usr/bin/env node
// Where mcpx's main thread spends its time per call, from the .cpuprofile files of
// `node bench/profile.mjs calls <dir>`: self time in the calls window (from the first to the last sample
// inside the pipeline or the route: start-up left out, idle time left out), sorted into the places
// issue 22 names, in µs per call, the mean over the files given. Samples are wall-clock time while the
// thread runs, so a loaded machine inflates every row alike: compare before/after runs taken in turn.
// usage: node bench/cpuprofile-calls.mjs <calls (13000 for profile.mjs calls)> <file.cpuprofile>...
import { readFileSync } from 'node:fs';

const [callsArg, ...files] = process.argv.slice(2);
const calls = Number(callsArg);
if (!calls || !files.length) {
  console.error('usage: node bench/cpuprofile-calls.mjs <calls> <file.cpuprofile>...');
  process.exit(2);
}

/** The first place a function falls in wins; the last takes the rest. */
const PLACES = [
  ['pipe writes (writeUtf8String, writev: the system calls)', (f) => f === 'writeUtf8String' || f === 'writev'],
  ['garbage collector', (f) => f === '(garbage collector)'],
  ['AbortSignals and their listeners (node: abort_controller, event_target; server/bridge.ts)', (f, u) => u.includes('abort_controller') || u.includes('event_target') || u.includes('dist/server/bridge.js')],
  ['audit row: telemetry/audit.ts, util/canonical.ts, the hash, better-sqlite3', (f, u) => u.includes('telemetry/audit.js') || u.includes('util/canonical.js') || u.includes('better-sqlite3') || u.includes('internal/crypto')],
  ['children/raw.ts', (f, u) => u.includes('children/raw.js')],
  ['children/framing.ts', (f, u) => u.includes('children/framing.js')],
  ['children/stdio.ts, util/batch.ts', (f, u) => u.includes('children/stdio.js') || u.includes('util/batch.js')],
  ['status and stats bookkeeping', (f, u) => u.includes('telemetry/status.js') || u.includes('telemetry/stats.js') || u.includes('cache/stats.js')],
  ['pipeline/ (call, admission, policies, breaker), cockatiel', (f, u) => u.includes('dist/pipeline/') || u.includes('cockatiel')],
  ['the upstream side (server/: forward, upstream, stdio-upstream, serve, compat; runtime/)', (f, u) => /dist\/server\//.test(u) || u.includes('dist/runtime/')],
  ['everything else (node streams, timers, microtasks, the SDK, modules loaded in the window)', () => true],
];

const sums = new Map(PLACES.map(([name]) => [name, 0]));
let busy = 0;
for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inCall = (id) => {
    for (let x = id; x !== undefined; x = parent.get(x)) {
      const u = byId.get(x).callFrame.url;
      if (u.includes('dist/pipeline/call.js') || u.includes('dist/server/forward.js')) return true;
    }
    return false;
  };
  let first = -1;
  let last = -1;
  for (let i = 0; i < p.samples.length; i++) {
    if (!inCall(p.samples[i])) continue;
    if (first < 0) first = i;
    last = i;
  }
  // Sample i lasts until sample i+1: its time is timeDeltas[i + 1] (µs).
  for (let i = first; i <= last; i++) {
    const { functionName, url } = byId.get(p.samples[i]).callFrame;
    if (functionName === '(idle)') continue;
    const us = p.timeDeltas[i + 1] ?? 0;
    const [name] = PLACES.find(([, test]) => test(functionName, url));
    sums.set(name, sums.get(name) + us);
    busy += us;
  }
}
const per = (us) => (us / calls / files.length).toFixed(1);
console.log(`| where (self time in the calls window) | µs per call |\n| --- | --- |`);
for (const [name, us] of sums) console.log(`| ${name} | ${per(us)} |`);
console.log(`| **main thread busy, in all** | **${per(busy)}** |`);
