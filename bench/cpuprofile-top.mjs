#!/usr/bin/env node
// Top self time of V8 .cpuprofile files (from `node --cpu-prof`): per function and per module/package,
// summed over every file given. usage: node bench/cpuprofile-top.mjs [--rows=20] <file.cpuprofile>...
import { readFileSync } from 'node:fs';

const argv = process.argv.slice(2);
const rows = Number(argv.find((a) => a.startsWith('--rows='))?.slice(7) ?? 20);
const files = argv.filter((a) => !a.startsWith('--'));
if (!files.length) {
  console.error('usage: node bench/cpuprofile-top.mjs [--rows=20] <file.cpuprofile>...');
  process.exit(2);
}

// Sample i lasts until sample i+1: its time is timeDeltas[i + 1] (µs). Keyed by call frame, across files.
const self = new Map();
for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const f = byId.get(samples[i]);
    const key = JSON.stringify([f.functionName, f.url, f.lineNumber]);
    self.set(key, (self.get(key) ?? 0) + (timeDeltas[i + 1] ?? 0));
  }
}

const short = (url) => {
  if (!url) return '';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const i = url.indexOf('/dist/');
  if (i >= 0) return url.slice(i + 1);
  return url.replace(/^file:\/\//, '');
};
const moduleOf = (url) => {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return 'node: (core)';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const parts = url.slice(nm + 'node_modules/'.length).split('/');
    return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
  }
  return short(url);
};

const perFn = new Map();
const perModule = new Map();
let total = 0;
for (const [key, us] of self) {
  const [functionName, url, lineNumber] = JSON.parse(key);
  const f = { functionName, url, lineNumber };
  const fn = `${f.functionName || '(anonymous)'}  ${short(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
  perFn.set(fn, (perFn.get(fn) ?? 0) + us);
  const m = moduleOf(f.url);
  perModule.set(m, (perModule.get(m) ?? 0) + us);
  total += us;
}

const print = (title, map) => {
  console.log(`\n${title}`);
  for (const [k, us] of [...map].sort((a, b) => b[1] - a[1]).slice(0, rows)) {
    console.log(`${(us / 1000).toFixed(1).padStart(9)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
};
console.log(`${files.length} profile(s), ${(total / 1000).toFixed(0)} ms sampled`);
print('self time by function', perFn);
print('self time by module / package', perModule);
