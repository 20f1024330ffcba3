#!/usr/bin/env node
// mcpx against the floor and a peer, in one interleaved run. Four targets, each a real process over
// stdio driven by the SDK client: the fixture child alone (direct), the same child behind the byte
// copier (bench/pipe-proxy.mjs), a peer aggregator (mcp-proxy-server, built by bench/get-peer.sh) in
// front of the same four children as mcpx, and mcpx. The order of the targets turns each round.
// Per target and round, one session: spawn → initialize answered, → tools listed; sequential calls of
// the uncached instant tool (p50); 8 in flight (calls/s); CPU time of the target's own process per call
// (/proc/<pid>/stat, child and client excluded); peak RSS (VmHWM) of that process once the session has
// made 10,000 calls. Start-up is the median of three sessions per target and round. Prints a markdown
// table: medians over rounds [min–max], per-round ratios, and the goals with MET / NOT MET.
// usage: npm run build && node bench/compare.mjs [rounds]
//        MCPX_BENCH_PEER=<peer checkout>/build/index.js (without it the peer column says "not found")
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import {
  MARK, SERVERS, callFigures, childCommands, copierTarget, directTarget, listUntil, mcpxTarget, median, processesWith, shutdown, start,
  workspace,
} from './lib.mjs';

const ROUNDS = Number(process.argv[2] ?? 5);
if (!(ROUNDS >= 1)) {
  console.error('usage: node bench/compare.mjs [rounds]');
  process.exit(2);
}
const N = { warm: 200, seq: 500, thr: 2000, mem: 10_000 };
const STARTS = 3;
const log = (...a) => console.error(...a);
const load0 = loadavg();
const tBench = performance.now();
const ws = workspace();
const peerEntry = process.env.MCPX_BENCH_PEER;
const peerFound = Boolean(peerEntry && existsSync(peerEntry));

/**
 * mcp-proxy-server reads config.json from its working directory, so the config sits in the bench's
 * workspace and the peer runs there. It starts its children one after the other before it answers
 * `initialize`, routes a call by the bare tool name (the last child listing a name wins: `echo` → notion,
 * as mcpx's notion__echo), and knows a tool only after a tools/list. The marker is an argument it ignores.
 */
function peerTarget() {
  const c = childCommands(ws);
  const dir = join(ws, 'peer');
  mkdirSync(dir, { recursive: true });
  const servers = SERVERS.map((name) => ({ name, transport: { command: c[name].command, args: c[name].args } }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ servers }, null, 2));
  return { kind: 'peer', command: process.execPath, args: [peerEntry, MARK], env: {}, cwd: dir };
}

/** Each target: how to start it, the tool it calls, and what to list first (an empty array: one listing). */
const TARGETS = [
  { key: 'direct', label: 'direct child', target: () => directTarget(), tool: 'echo', prefixes: [] },
  { key: 'copier', label: 'byte copier', target: () => copierTarget(), tool: 'echo', prefixes: [] },
  { key: 'peer', label: 'mcp-proxy-server', target: peerTarget, tool: 'echo', prefixes: [], skip: !peerFound },
  { key: 'mcpx', label: 'mcpx', target: () => mcpxTarget(ws, 'compare'), tool: 'notion__echo', prefixes: SERVERS },
];
const live = TARGETS.filter((t) => !t.skip);

/** Spawn → initialize answered, → tools listed; then stop. */
async function startup(t) {
  const s = await start(t.target());
  await listUntil(s.client, t.prefixes);
  const listedMs = performance.now() - s.t0;
  const { left } = await shutdown(s);
  if (left) throw new Error(`${left} processes still running 3 s after the client closed`);
  return { initMs: s.initMs, listedMs };
}

/** A session that throws leaves its processes behind: stop them, so that the next session starts clean. */
function killLeftovers() {
  const left = processesWith(MARK);
  for (const pid of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  return left.length;
}

const rounds = [];
const failures = [];
let exitCode = 0;
try {
  // Untimed: stores mcpx's catalogs (its tools list from them at the next start) and warms every target's files.
  for (const t of live) await callFigures(t.target(), t.tool, t.prefixes, { warm: 50, seq: 0, thr: 0 });
  for (let r = 0; r < ROUNDS; r++) {
    const row = {};
    for (let i = 0; i < live.length; i++) {
      const t = live[(i + r) % live.length];
      try {
        const figures = await callFigures(t.target(), t.tool, t.prefixes, N);
        // Start-up swings most on a busy machine: the round's figure is the median of STARTS sessions.
        const starts = [figures];
        for (let k = 1; k < STARTS; k++) starts.push(await startup(t));
        row[t.key] = { ...figures, initMs: median(starts.map((x) => x.initMs)), listedMs: median(starts.map((x) => x.listedMs)) };
      } catch (e) {
        failures.push(`round ${r + 1}, ${t.key}: ${e.message ?? e}`);
        log(`round ${r + 1}: ${t.key} failed: ${e.stack ?? e}`);
        killLeftovers();
      }
    }
    rounds.push(row);
    const show = (k, f) => live.map((t) => (row[t.key] ? f(row[t.key]) : '—')).join(' / ');
    log(`round ${r + 1}/${ROUNDS} (load ${loadavg()[0].toFixed(2)}) ${live.map((t) => t.key).join(' / ')}: ` +
      `p50 ${show('seq', (x) => x.seq.toFixed(3))} ms; 8 in flight ${show('cps8', (x) => x.cps8 | 0)}/s; ` +
      `CPU/call ${show('cpu', (x) => (x.cpu * 1000).toFixed(0))} µs; VmHWM ${show('mem', (x) => x.mem.hwmMb.toFixed(1))} MB; ` +
      `init ${show('init', (x) => x.initMs.toFixed(0))} ms; listed ${show('listed', (x) => x.listedMs.toFixed(0))} ms`);
  }
  report();
} catch (e) {
  log(`bench failed: ${e.stack ?? e}`);
  exitCode = 1;
} finally {
  const left = killLeftovers();
  console.log(`\nprocesses left behind (marker ${MARK}): ${left}`);
  if (left) exitCode = 1;
  rmSync(ws, { recursive: true, force: true });
  log(`total ${((performance.now() - tBench) / 1000).toFixed(1)} s`);
  process.exitCode = exitCode;
}

function report() {
  // A goal is a list of checks, each on the median of mcpx's per-round ratios to another target (or on
  // mcpx's own median when `vs` is absent).
  const FIGURES = [
    { label: 'call p50, sequential, uncached instant tool (ms)', get: (x) => x.seq, d: 3,
      goal: '≤ 1.25× copier, < peer', checks: [{ vs: 'copier', ok: (q) => q <= 1.25 }, { vs: 'peer', ok: (q) => q < 1 }] },
    { label: `… the same after ${N.mem.toLocaleString('en')} calls, the hot code compiled (ms)`, get: (x) => x.seqWarm, d: 3,
      goal: '≤ 1.25× copier, < peer', checks: [{ vs: 'copier', ok: (q) => q <= 1.25 }, { vs: 'peer', ok: (q) => q < 1 }] },
    { label: 'calls/s, 8 in flight', get: (x) => x.cps8, d: 0,
      goal: '≥ 0.8× copier, > peer', checks: [{ vs: 'copier', ok: (q) => q >= 0.8 }, { vs: 'peer', ok: (q) => q > 1 }] },
    { label: `… the same over the calls after them up to ${N.mem.toLocaleString('en')}, the hot code compiled`, get: (x) => x.cps8Warm, d: 0,
      goal: '≥ 0.8× copier, > peer', checks: [{ vs: 'copier', ok: (q) => q >= 0.8 }, { vs: 'peer', ok: (q) => q > 1 }] },
    { label: 'CPU time of the target\'s own process per call (µs): the sequential and 8-in-flight calls above', get: (x) => x.cpu * 1000, d: 0,
      goal: 'mcpx ≤ 60 µs', checks: [{ ok: (v) => v <= 60 }] },
    { label: `… and the calls after them up to ${N.mem.toLocaleString('en')}, 8 in flight, the hot code compiled (µs)`, get: (x) => x.cpuWarm * 1000, d: 0,
      goal: 'mcpx ≤ 60 µs', checks: [{ ok: (v) => v <= 60 }] },
    { label: `peak RSS (VmHWM) of the root process after ${N.mem.toLocaleString('en')} calls (MB)`, get: (x) => x.mem.hwmMb, d: 1,
      goal: '≤ direct SDK child', checks: [{ vs: 'direct', ok: (q) => q <= 1 }] },
    { label: 'start-up: spawn → initialize answered (ms)', get: (x) => x.initMs, d: 0,
      goal: '≤ 0.8× direct', checks: [{ vs: 'direct', ok: (q) => q <= 0.8 }] },
    { label: 'start-up: spawn → tools listed (ms)', get: (x) => x.listedMs, d: 0,
      goal: '≤ 1.0× direct', checks: [{ vs: 'direct', ok: (q) => q <= 1.0 }] },
  ];
  const num = (v, d) => v.toLocaleString('en', { minimumFractionDigits: d, maximumFractionDigits: d });
  const fmt = (xs, d) => (xs.length === 0 ? '—' : xs.length === 1 || Math.min(...xs) === Math.max(...xs)
    ? num(xs[0], d) : `${num(median(xs), d)} [${num(Math.min(...xs), d)}–${num(Math.max(...xs), d)}]`);
  const values = (key, get) => rounds.filter((r) => r[key]).map((r) => get(r[key]));
  const ratios = (key, get) => rounds.filter((r) => r.mcpx && r[key]).map((r) => get(r.mcpx) / get(r[key]));

  const head = ['figure', ...TARGETS.map((t) => t.label), 'mcpx / copier', 'mcpx / peer', 'mcpx / direct', 'goal', ''];
  const rows = FIGURES.map((f) => {
    const cells = TARGETS.map((t) => (t.skip ? 'not found' : fmt(values(t.key, f.get), f.d)));
    const judged = f.checks.map(({ vs, ok }) => {
      const xs = vs ? ratios(vs, f.get) : values('mcpx', f.get);
      return xs.length ? ok(median(xs)) : undefined;
    });
    const result = judged.includes(false) ? 'NOT MET' : judged.includes(undefined) ? (values('mcpx', f.get).length ? 'MET where measured (no peer)' : '') : 'MET';
    const r = (key) => fmt(ratios(key, f.get), 2);
    return [f.label, ...cells, r('copier'), r('peer'), r('direct'), f.goal, result];
  });

  const ok = rounds.map((r) => live.filter((t) => r[t.key]).length);
  let peerSdk = '';
  if (peerFound) {
    try {
      const pkg = join(dirname(peerEntry), '..', 'node_modules/@modelcontextprotocol/sdk/package.json');
      peerSdk = `, SDK ${JSON.parse(readFileSync(pkg, 'utf8')).version}`;
    } catch {
      /* another layout: no version shown */
    }
  }
  const la = (l) => l.map((x) => x.toFixed(2)).join(' ');
  console.log(`\nbench/compare.mjs — ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}`);
  console.log(`load average ${la(load0)} at the start, ${la(loadavg())} at the end; ${ROUNDS} rounds, interleaved (the order turns each round); ` +
    `per session ${N.warm} warm-up calls, ${N.seq} sequential, ${N.thr} with 8 in flight, calls up to ${N.mem.toLocaleString('en')} before the RSS reading`);
  console.log(`mcpx and the peer in front of the same ${SERVERS.length} children (${SERVERS.join(', ')}); the call goes to notion (fixture child, mcpx cache off); ` +
    `peer: ${peerFound ? `${peerEntry}${peerSdk}` : `not found (MCPX_BENCH_PEER=${peerEntry ?? ''})`}`);
  console.log('values: median over rounds [min–max]; ratios: per round, then their median [min–max]\n');
  const line = (cells) => `| ${cells.join(' | ')} |`;
  console.log([line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n'));
  const floor = (get) => fmt(rounds.filter((r) => r.copier && r.direct).map((r) => get(r.copier) / get(r.direct)), 2);
  console.log(`\nthe floor, copier / direct: call p50 ${floor((x) => x.seq)}, 8 in flight ${floor((x) => x.cps8)}`);
  const leftovers = rounds.flatMap((r) => live.filter((t) => r[t.key]?.left).map((t) => `${t.key} ${r[t.key].left}`));
  console.log(`processes still running 3 s after a session's client closed: ${leftovers.length ? leftovers.join(', ') : 'none'}`);
  if (failures.length) {
    console.log(`sessions that failed (left out of the figures): ${failures.join('; ')}`);
    exitCode = 1;
  }
  if (ok.some((n) => n === 0)) exitCode = 1;
}
