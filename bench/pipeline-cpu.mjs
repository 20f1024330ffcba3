#!/usr/bin/env node
// mcpx's own work per forwarded call, without pipes or other processes: the client's call tracked on
// its edge (server/bridge.ts), the pipeline (pipeline/call.ts), the child half (children/raw.ts: the
// request as JSON, the answer line parsed and matched), and the listeners of every call (audit row
// batched into SQLite, stats, status). The child answers each request on the next turn of the event
// loop, as a pipe would. Steadier than a figure taken across processes on a shared machine: it reads
// this process's CPU time and, in a second run with a young generation too large to fill (256 MB from the start), the bytes
// allocated per call (what the garbage collector then has to clean up).
// usage: npm run build && node bench/pipeline-cpu.mjs [calls] [inFlight]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = new URL('../dist/', import.meta.url);
const load = (p) => import(new URL(p, dist).href);
const [{ normalizeConfig }, { Pipeline }, { buildPolicies }, { RawRequests }, { UpstreamEdge }, { openDatabase }, { AuditLog, recordAudit }, { StatsRecorder }, { recordStats }, { StatusTracker }] =
  await Promise.all(['config/normalize.js', 'pipeline/call.js', 'pipeline/policies.js', 'children/raw.js', 'server/bridge.js', 'cache/db.js', 'telemetry/audit.js', 'cache/stats.js', 'telemetry/stats.js', 'telemetry/status.js'].map(load));

const calls = Number(process.argv[2] ?? 50_000);
const inFlight = Number(process.argv[3] ?? 8);
const measuringBytes = process.env.BENCH_BYTES === '1';

const { config } = normalizeConfig({ raw: { mcpServers: { notion: { command: 'child', cache: { enabled: false } } } }, file: '/tmp/mcpx.json', foundBy: 'flag', vars: {}, envFiles: [] });
const server = config.servers[0];

// The child: raw.ts on a fake wire. What raw.ts sends is serialised as stdio.ts does; the answer comes
// back as the line the fixture child writes, on the next turn, through raw.take as the framer gives it.
const queue = [];
const answerAll = () => {
  for (const m of queue.splice(0)) {
    const text = `{"result":{"content":[{"type":"text","text":${JSON.stringify(m.params.arguments.text)}}]},"jsonrpc":"2.0","id":${m.id}}`;
    raw.take(JSON.parse(text), text);
  }
};
const raw = new RawRequests((m) => {
  JSON.stringify(m);
  if (queue.push(m) === 1) setImmediate(answerAll);
  return undefined;
});
const child = {
  name: 'notion', config: server, era: 'legacy', connection: 1, authRejected: false, state: { kind: 'ready', since: 0 },
  credentialFingerprint: () => undefined, start: async () => {},
  request: (method, params, options) => raw.request(method, params, options),
};
const tool = { name: 'echo', inputSchema: { type: 'object' }, annotations: { readOnlyHint: true } };
const policies = buildPolicies(server);
const pipeline = new Pipeline({
  router: { tool: (name) => (name === 'notion__echo' ? { child, name: 'echo', tool } : undefined), prompt: () => undefined, resource: () => undefined, settled: async () => {} },
  policies: () => policies,
  store: () => undefined,
  keySalt: () => undefined,
  childWanted: () => {},
  reauthenticate: async () => {},
});

const dir = mkdtempSync(join(tmpdir(), 'mcpx-pipeline-cpu-'));
const cdb = openDatabase(dir);
const audit = new AuditLog(cdb, config.audit, { maxPending: 1e7 }); // every row written, however fast the calls come
recordAudit(pipeline, audit);
const stats = new StatsRecorder(cdb);
recordStats(pipeline, stats);
new StatusTracker(pipeline, [], new Map(), { restarts: () => 0 });

// What the route does per call: its own cancellation (the call's: one signal), the call tracked on the
// client's edge, the pipeline.
const edge = new UpstreamEdge();
edge.era = 'legacy';
const one = (i) => {
  const route = new AbortController();
  return edge.track('notion', route, (signal, asker) => pipeline.run({ kind: 'tool', params: { name: 'notion__echo', arguments: { text: `c ${i}` } } }, { signal, caller: 'local:bench', asker }), i);
};
const run = async (n) => {
  let next = 0;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < n) await one(next++);
  }));
};

await run(20_000); // the JIT settles
if (measuringBytes) {
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  await run(5_000);
  console.log(((process.memoryUsage().heapUsed - before) / 5_000).toFixed(0));
} else {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(calls);
  audit.flush(); // the rows of these calls are part of their cost
  const cpu = process.cpuUsage(cpu0);
  const wallMs = performance.now() - t0;
  const bytes = execFileSync(process.execPath, ['--expose-gc', '--min-semi-space-size=256', '--max-semi-space-size=256', fileURLToPath(import.meta.url)], { env: { ...process.env, BENCH_BYTES: '1' }, encoding: 'utf8' }).trim();
  console.log(`${calls} calls, ${inFlight} in flight: ${((cpu.user + cpu.system) / calls).toFixed(1)} µs CPU per call (user ${(cpu.user / calls).toFixed(1)}, system ${(cpu.system / calls).toFixed(1)}), ${(wallMs * 1000 / calls).toFixed(1)} µs wall; ${bytes} bytes allocated per call`);
}
audit.close();
stats.close?.();
cdb.close();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
