#!/usr/bin/env node
// mcpx per forwarded call, in both protocol eras, on one build: the fixture child alone (a) and mcpx in
// front of the bench's children (b), in interleaved rounds. Per round: uncached instant calls (sequential
// p50), 8 in flight (calls/s), the warm tools/list (p50 once every child is up), and the CPU time the
// server process itself used per call (/proc/<pid>/stat: on a shared machine the figure to compare). Then
// mcpx for a 2026-07-28 client (discover, every request with the envelope; Claude Code 2.x) on raw pipes,
// so that only the server is measured. usage: npm run build && node bench/per-call.mjs [rounds] [both|legacy|modern]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { rmSync } from 'node:fs';
import { SERVERS, callFigures, cpuMs, directTarget, echo, mcpxTarget, median, workspace } from './lib.mjs';

const rounds = Number(process.argv[2] ?? 5);
const which = process.argv[3] ?? 'both';
const N = { warm: 200, seq: 500, thr: 2000, lists: 100 };
const ws = workspace();

const measure = (target, tool, prefixes) => callFigures(target, tool, prefixes, N);

const mcpx = () => mcpxTarget(ws, 'per-call');
await measure(mcpx(), 'notion__echo', SERVERS); // warms the stored catalogs
const fmt = (xs, d = 2) => `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`;
if (which !== 'modern') {
  const rows = [];
  for (let r = 0; r < rounds; r++) {
    const a = await measure(directTarget(), 'echo');
    const b = await measure(mcpx(), 'notion__echo', SERVERS);
    rows.push({ a, b });
    console.error(`round ${r + 1}/${rounds}: seq p50 ${a.seq.toFixed(2)} / ${b.seq.toFixed(2)} ms, 8 in flight ${a.cps8 | 0} / ${b.cps8 | 0} /s, list ${a.list.toFixed(2)} / ${b.list.toFixed(2)} ms, server CPU per call ${a.cpu.toFixed(3)} / ${b.cpu.toFixed(3)} ms`);
  }
  console.log(`2025 client (SDK 1.x Client):\n| figure | direct (a) | mcpx (b) | b/a |\n| --- | --- | --- | --- |`);
  for (const [k, label, d] of [['seq', 'uncached call p50 (ms)', 2], ['cps8', 'uncached, 8 in flight (calls/s)', 0], ['list', 'warm tools/list p50 (ms)', 2], ['cpu', 'server CPU time per call (ms)', 3]]) {
    const col = (w) => rows.map((x) => x[w][k]);
    const ratio = (w) => rows.map((x) => x[w][k] / x.a[k]);
    console.log(`| ${label} | ${fmt(col('a'), d)} | ${fmt(col('b'), d)} | ${fmt(ratio('b'))} |`);
  }
}

/**
 * A 2026-07-28 client on raw pipes: server/discover, then lists until every child is listed, then the
 * same uncached calls. Lines in, lines out, no SDK client.
 */
const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'bench-2026', version: '1.0.0' },
  'io.modelcontextprotocol/clientCapabilities': { elicitation: { form: {} } },
};
async function measureModern(target) {
  const proc = spawn(target.command, target.args, { env: { ...process.env, ...target.env }, stdio: ['pipe', 'pipe', 'ignore'] });
  const waiting = new Map();
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const m = JSON.parse(line);
    if (m.method === undefined && waiting.has(m.id)) {
      waiting.get(m.id)(m);
      waiting.delete(m.id);
    }
  });
  let id = 0;
  const req = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const n = ++id;
      waiting.set(n, (m) => (m.error || m.result?.isError ? reject(new Error(`${method}: ${JSON.stringify(m.error ?? m.result)}`)) : resolve(m.result)));
      proc.stdin.write(JSON.stringify({ jsonrpc: '2.0', id: n, method, params: { ...params, _meta: { ...params._meta, ...ENVELOPE } } }) + '\n');
    });
  await req('server/discover');
  for (const t = performance.now(); ; ) {
    const { tools } = await req('tools/list');
    if (SERVERS.every((p) => tools.some((tool) => tool.name.startsWith(`${p}__`)))) break;
    if (performance.now() - t > 15_000) throw new Error('not every child listed within 15 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  const one = (text) => req('tools/call', echo('notion__echo', text));
  for (let i = 0; i < N.warm; i++) await one(`warm ${i}`);
  const cpu0 = cpuMs(proc.pid);
  const times = [];
  for (let i = 0; i < N.seq; i++) {
    const t = performance.now();
    await one(`seq ${i}`);
    times.push(performance.now() - t);
  }
  let next = 0;
  const t = performance.now();
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (next < N.thr) await one(`c8 ${next++}`);
  }));
  const cps8 = N.thr / ((performance.now() - t) / 1000);
  const cpu = (cpuMs(proc.pid) - cpu0) / (N.seq + N.thr);
  proc.stdin.end();
  await new Promise((r) => proc.once('exit', r));
  return { seq: median(times), cps8, cpu };
}

if (which !== 'legacy') {
  const rows = [];
  for (let r = 0; r < rounds; r++) {
    const b = await measureModern(mcpx());
    rows.push({ b });
    console.error(`2026 client, round ${r + 1}/${rounds}: seq p50 ${b.seq.toFixed(3)} ms, 8 in flight ${b.cps8 | 0} /s, mcpx CPU per call ${b.cpu.toFixed(3)} ms`);
  }
  console.log(`\n2026-07-28 client on raw pipes (mcpx in front of ${SERVERS.length} children):\n| figure | mcpx (b) |\n| --- | --- |`);
  for (const [k, label, d] of [['seq', 'uncached call p50 (ms)', 3], ['cps8', 'uncached, 8 in flight (calls/s)', 0], ['cpu', 'mcpx CPU time per call (ms)', 3]]) {
    console.log(`| ${label} | ${fmt(rows.map((x) => x.b[k]), d)} |`);
  }
}
rmSync(ws, { recursive: true, force: true });
