// Shared pieces of `npm run bench` (bench/run.mjs) and bench/profile.mjs: targets spawned as real
// processes over stdio with the SDK client, the four-children config, call loops, /proc readings.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { z } from 'zod';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const MCPX = join(ROOT, 'bin/mcpx.js');
export const CHILD = join(ROOT, 'test/fixtures/child.mjs');
export const WRAPPER = join(ROOT, 'test/fixtures/npx-wrapper.mjs');

/** On the command line of every process the bench starts (directly, or in the temp dir's name): finds leftovers. */
export const MARK = `mcpx-bench-${randomUUID().slice(0, 8)}`;

/** A temp dir whose name carries the marker, with a copy of templates/standards for the standards child. */
export function workspace() {
  const dir = mkdtempSync(join(tmpdir(), `${MARK}-`));
  cpSync(join(ROOT, 'templates/standards'), join(dir, 'standards'), { recursive: true });
  return dir;
}

/**
 * The four children, like Context7 / Confluence / Notion / standards:
 *   docs        fixture child, cache on (echo is read-only → cached)
 *   confluence  fixture child behind the npx-style wrapper; FAIL_FILE switches it to errors (breaker figure)
 *   notion      fixture child, cache off (the uncached instant-tool figures); optionally 5 s slow to start
 *   standards   `mcpx standards --dir <copy of templates/standards>`
 */
export const SERVERS = ['docs', 'confluence', 'notion', 'standards'];
export function childCommands(ws, { slowStart = false } = {}) {
  const node = process.execPath;
  return {
    docs: { command: node, args: [CHILD, MARK, 'docs'], env: { NAME: 'docs' } },
    confluence: { command: node, args: [WRAPPER, CHILD, MARK, 'confluence'], env: { NAME: 'confluence', FAIL_FILE: failFile(ws) } },
    notion: { command: node, args: [CHILD, MARK, 'notion'], env: { NAME: 'notion', ...(slowStart ? { START_DELAY_MS: '5000' } : {}) } },
    standards: { command: node, args: [MCPX, 'standards', '--dir', join(ws, 'standards')], env: {} },
  };
}
export const failFile = (ws) => join(ws, 'confluence-down');

/** Writes <ws>/<name>/mcpx.json and returns the target description for start(). */
export function mcpxTarget(ws, name, { slowStart = false, nodeArgs = [] } = {}) {
  const c = childCommands(ws, { slowStart });
  // Caching is opt-in: the documentation servers ask for it as `mcpx init` writes them (the templates' TTLs).
  // Tool search off: past 40 tools it would list only mcpx's search tools to this client; the bench
  // measures the plain merged list, as every peer serves it.
  const config = {
    toolSearch: 'off',
    mcpServers: {
      docs: { ...c.docs, cache: { ttl: '2h' } },
      confluence: { ...c.confluence, cache: { ttl: '30m' }, breaker: { failureThreshold: 3, recoveryTimeoutMs: '10m', successThreshold: 2 } },
      notion: { ...c.notion, cache: { enabled: false } },
      standards: { ...c.standards, cache: { ttl: '1h' } },
    },
  };
  const dir = join(ws, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'mcpx.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  const envArgs = process.env.BENCH_MCPX_NODE_ARGS ? process.env.BENCH_MCPX_NODE_ARGS.split(' ').filter(Boolean) : [];
  return {
    kind: 'mcpx',
    command: process.execPath,
    args: [...envArgs, ...nodeArgs, MCPX, 'serve', '--config', file], // the config path carries the marker
    env: { MCPX_CACHE_DIR: join(dir, 'cache'), MCPX_STATE_DIR: join(dir, 'state') },
  };
}

/** The fixture child on its own: `node test/fixtures/child.mjs`. */
export function directTarget(extraEnv = {}) {
  return { kind: 'direct', command: process.execPath, args: [CHILD, MARK, 'direct'], env: { NAME: 'direct', ...extraEnv } };
}

/** The same child behind bench/pipe-proxy.mjs, the byte copier: the floor of a proxy that is a process of its own. */
export function copierTarget() {
  const d = directTarget();
  return { ...d, kind: 'copier', args: [join(ROOT, 'bench/pipe-proxy.mjs'), d.command, ...d.args] };
}

/** Spawns the target and connects (initialize answered). Times from just before the spawn. */
export async function start(target) {
  const transport = new StdioClientTransport({
    command: target.command,
    args: target.args,
    env: { ...process.env, ...target.env },
    stderr: 'pipe',
    cwd: target.cwd ?? ROOT,
  });
  let err = '';
  transport.stderr?.on('data', (d) => (err = (err + d.toString()).slice(-4000)));
  const client = new Client({ name: 'bench', version: '1.0.0' });
  const t0 = performance.now();
  await client.connect(transport); // spawn → initialize → initialized
  const initMs = performance.now() - t0;
  // Sizes of list answers as they came off the wire (JSON re-serialised, no schema in between).
  const sizes = {};
  const onmessage = transport.onmessage;
  transport.onmessage = (m) => {
    if (m.result?.tools) sizes.tools = m.result.tools;
    onmessage?.(m);
  };
  return { client, transport, pid: transport.pid, t0, initMs, sizes, stderr: () => err };
}

export const echo = (name, text) => ({ name, arguments: { text } });

export async function call(client, params) {
  const r = await client.callTool(params);
  if (r.isError) throw new Error(`${params.name} answered isError: ${JSON.stringify(r.content)}`);
  return r;
}

/** Sequential calls; returns per-call ms. */
// A list taken as it is (no schema): the figure is the server's, not the client's validation of 4× the tools.
const Anything = z.any();
/** p50 of n sequential tools/list (ms). */
export async function lists(client, n) {
  const out = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await client.request({ method: 'tools/list' }, Anything);
    out.push(performance.now() - t);
  }
  return median(out);
}

/**
 * One session's per-call figures: warm-up, sequential uncached p50 (ms), 8 in flight (calls/s), the
 * server process's CPU per call (ms), and the warm tools/list p50 when n.lists is set. `prefixes`: list
 * first, until every one of these children's tools shows (an empty array: one listing). Also start-up
 * (initMs: spawn → initialize answered; listedMs: spawn → listed, when `prefixes` is given), and with
 * n.mem the peak RSS of the server process once the session has made n.mem calls (8 in flight to go),
 * the CPU per call and calls/s of those last calls (cpuWarm, cps8Warm: V8 has compiled the hot code by then), and the p50 of
 * n.seq sequential calls after them (seqWarm).
 */
export async function callFigures(target, tool, prefixes, n) {
  const s = await start(target);
  let listedMs;
  if (prefixes) {
    await listUntil(s.client, prefixes);
    listedMs = performance.now() - s.t0;
  }
  await sequential(s.client, n.warm, (i) => echo(tool, `warm ${i}`));
  const cpu0 = cpuMs(s.pid);
  const seq = median(await sequential(s.client, n.seq, (i) => echo(tool, `seq ${i}`)));
  const cps8 = await concurrent(s.client, n.thr, 8, (i) => echo(tool, `c8 ${i}`));
  const cpu = (cpuMs(s.pid) - cpu0) / (n.seq + n.thr);
  const list = n.lists ? await lists(s.client, n.lists) : undefined;
  let mem;
  let cpuWarm;
  let cps8Warm;
  let seqWarm;
  if (n.mem) {
    // The calls up to n.mem, 8 in flight: also the CPU per call once V8 has compiled the hot code.
    const calls = Math.max(0, n.mem - n.warm - n.seq - n.thr);
    const cpu1 = cpuMs(s.pid);
    cps8Warm = await concurrent(s.client, calls, 8, (i) => echo(tool, `m ${i}`));
    cpuWarm = calls ? (cpuMs(s.pid) - cpu1) / calls : undefined;
    mem = memory(s.pid);
    // And sequential calls again, the hot code compiled by now.
    seqWarm = median(await sequential(s.client, n.seq, (i) => echo(tool, `seq-warm ${i}`)));
  }
  const { left } = await shutdown(s);
  return { seq, cps8, cpu, cpuWarm, cps8Warm, seqWarm, list, initMs: s.initMs, listedMs, mem, left };
}

/**
 * CPU time (user + system) a process has used, in ms: steadier than wall time on a loaded machine.
 * The server's own process only (the client and the children are other processes).
 */
export function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
}

export async function sequential(client, n, params) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const p = typeof params === 'function' ? params(i) : params;
    const t = performance.now();
    await call(client, p);
    out[i] = performance.now() - t;
  }
  return out;
}

/** `total` calls with `inflight` at a time; returns calls per second. */
export async function concurrent(client, total, inflight, params) {
  let next = 0;
  const t = performance.now();
  const worker = async () => {
    while (next < total) {
      const i = next++;
      await call(client, typeof params === 'function' ? params(i) : params);
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  return total / ((performance.now() - t) / 1000);
}

/** Closes stdin (client.close() ends it first) and waits until no process with the marker is left. */
export async function shutdown(session, { limitMs = 3000, word = MARK } = {}) {
  const t = performance.now();
  const closing = session.client.close().catch(() => undefined);
  let left = processesWith(word);
  while (left.length && performance.now() - t < limitMs) {
    await new Promise((r) => setTimeout(r, 2));
    left = processesWith(word);
  }
  const ms = performance.now() - t;
  await closing;
  return { ms, left: left.length };
}

import { processesWith } from '../dist/util/proc.js';
export { processesWith };

/** VmHWM (peak RSS) and VmRSS of one process, in MB. */
export function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { hwmMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
}

/** Waits until a listing shows tools of every one of `prefixes` (mcpx lists a child once it knows its catalog). */
export async function listUntil(client, prefixes, limitMs = 15000) {
  const t = performance.now();
  for (;;) {
    const { tools } = await client.listTools();
    const missing = prefixes.filter((p) => !tools.some((tool) => tool.name.startsWith(`${p}__`)));
    if (!missing.length) return tools;
    if (performance.now() - t > limitMs) throw new Error(`tools of ${missing.join(', ')} not listed within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
};
export const median = (xs) => quantile(xs, 0.5);
