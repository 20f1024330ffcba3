#!/usr/bin/env node
// Node's AbortSignals outlive the young generation. 100,000 sequential operations, each like a forwarded
// call: a new AbortController whose signal gets an abort listener (removed at the end), a Map.set and
// Map.delete on a long-lived Map, a plain object, and a turn of the event loop. The sampling heap
// profiler tells what each site allocated and how much of it was promoted before it died (collected by
// a full GC only). usage: node bench/abort-signals.mjs [--no-listener] (without one, the lazy signal is never made)
import { Session } from 'node:inspector';

const listener = !process.argv.includes('--no-listener');
const session = new Session();
session.connect();
const post = (method, params) => new Promise((res, rej) => session.post(method, params, (e, r) => (e ? rej(e) : res(r))));
const inFlight = new Map();

async function operation(i) {
  const abort = new AbortController();
  inFlight.set(i, abort);
  const plain = { n: i, list: [i, i + 1], text: `call ${i}` };
  await new Promise((resolve) => {
    const onAbort = () => resolve();
    if (listener) abort.signal.addEventListener('abort', onAbort, { once: true });
    setImmediate(() => {
      if (listener) abort.signal.removeEventListener('abort', onAbort);
      resolve(plain);
    });
  });
  inFlight.delete(i);
}

const sample = async (minorToo) => {
  await post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: minorToo });
  for (let i = 0; i < 100_000; i++) await operation(i);
  const { profile } = await post('HeapProfiler.stopSampling');
  const sites = new Map();
  const walk = (node) => {
    const site = `${node.callFrame.functionName || '(anonymous)'}:${node.callFrame.lineNumber + 1}`;
    if (node.selfSize) sites.set(site, (sites.get(site) ?? 0) + node.selfSize);
    node.children.forEach(walk);
  };
  walk(profile.head);
  return sites;
};

for (let i = 0; i < 5000; i++) await operation(i); // warm-up
await post('HeapProfiler.enable');
const all = await sample(true);
const promoted = await sample(false);
// Optimised code attributes an allocation to the function it was inlined into, differently in the two
// windows: the signal is made by `createAbortSignal`, called from the `signal` getter.
const KINDS = [
  ['the AbortSignal', (site) => site.startsWith('createAbortSignal:') || site.startsWith('get signal:')],
  ['a new table for the emptied Map (Map.prototype.delete)', (site) => site.startsWith('delete:')],
  ['the listener (addEventListener)', (site) => site.startsWith('addEventListener:')],
  ['the plain object and the promise (the operation itself)', (site) => site.startsWith('operation:')],
];
const sum = (sites, match) => [...sites].reduce((n, [site, bytes]) => n + (match(site) ? bytes : 0), 0);
console.log(`Node ${process.version}, ${listener ? 'with' : 'without'} an abort listener, 100,000 operations\n| allocated by | all (KiB) | promoted (KiB) | promoted share |\n| --- | --- | --- | --- |`);
for (const [kind, match] of KINDS) {
  const a = sum(all, match);
  const p = sum(promoted, match);
  if (a) console.log(`| ${kind} | ${(a / 1024).toFixed(0)} | ${(p / 1024).toFixed(0)} | ${(p / a).toFixed(2)} |`);
}
