#!/usr/bin/env node
// Tool search retrieval benchmark (`npm run bench:tool-search`, or `node bench/tool-search.mjs` after a build).
// The corpus: the catalogs of six published MCP servers (bench/tool-search/catalogs/*.json, each naming
// where it came from), exposed as mcpx exposes them (`<server>__<tool>`). The tasks
// (bench/tool-search/tasks.json) are developer requests, each with the one tool that does it; the
// ranking was tuned on them. bench/tool-search/holdout.json holds 20 more, written after the tuning
// and never tuned on: the honest figure for tasks nobody has seen.
// For each ranking variant: recall@1 and recall@5 (the right tool first / in the top 5), and the
// time per query. Then the size of tools/list with tool search off and on (bytes of its JSON, and
// tokens at 4 bytes each). A benchmark, not a timed test: it prints, and writes
// bench/results/tool-search.json. --misses prints the tasks the shipped ranking gets wrong.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const dist = (p) => import(join(ROOT, 'dist', p));
const [{ ToolIndex, BASELINE, SHIPPED, readOnlyOf }, { tokenize }, { exposedName }, { searchListing }, { STATUS_TOOL }, { MORE_TOOL }] = await Promise.all([
  dist('server/tool-search/rank.js'),
  dist('server/tool-search/tokens.js'),
  dist('runtime/names.js'),
  dist('server/tool-search/exposure.js'),
  dist('server/identity.js'),
  dist('server/own-tools.js'),
]);

const dir = join(ROOT, 'bench/tool-search');
const catalogs = readdirSync(join(dir, 'catalogs'))
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => JSON.parse(readFileSync(join(dir, 'catalogs', f), 'utf8')));
const tasks = JSON.parse(readFileSync(join(dir, 'tasks.json'), 'utf8'));
const holdout = JSON.parse(readFileSync(join(dir, 'holdout.json'), 'utf8'));

const docs = catalogs.flatMap((c) =>
  c.tools.map((t) => ({
    name: exposedName(c.server, t.name),
    ownName: t.name,
    title: t.title ?? t.annotations?.title,
    description: t.description,
    inputSchema: t.inputSchema,
    server: c.server,
    instructions: c.instructions,
    readOnly: readOnlyOf(t.annotations),
  })),
);
const names = new Set(docs.map((d) => d.name));
for (const t of [...tasks, ...holdout]) if (!names.has(t.tool)) throw new Error(`task "${t.task}": no tool ${t.tool} in the catalogs`);

// "In other words": the task shares no word (stemmed) with the tool's own name.
const own = (t) => new Set(tokenize(docs.find((d) => d.name === t.tool).ownName, { stem: true }));
const inOtherWords = (set) => set.filter((t) => !tokenize(t.task, { stem: true }).some((w) => own(t).has(w))).length;
const otherWords = inOtherWords(tasks);

const variants = [
  ['BM25 (baseline: one bag of name, title, description, parameters)', BASELINE],
  ['+ stemming', { ...BASELINE, stem: true }],
  ['+ field weights (BM25F)', { weights: { name: 3, title: 2, description: 1, params: 0.5 } }],
  ['+ field weights, stemming', { weights: { name: 3, title: 2, description: 1, params: 0.5 }, stem: true }],
  ['+ field weights, stemming, server name', { weights: { name: 3, title: 2, description: 1, params: 0.5, server: 1 }, stem: true }],
  ['+ field weights, stemming, server name, instructions', { weights: { ...SHIPPED.weights, instructions: 0.2 }, stem: true }],
  ['+ synonyms (no stemming, no weights)', { ...BASELINE, synonyms: SHIPPED.synonyms }],
  ['+ weights, stemming, server name, synonyms', { weights: SHIPPED.weights, stem: true, synonyms: SHIPPED.synonyms }],
  ['+ weights, stemming, server name, synonyms, coord', { weights: SHIPPED.weights, stem: true, synonyms: SHIPPED.synonyms, coord: true }],
  ['+ name coverage boost (shipped until 2026-12-07)', { ...SHIPPED, intent: 0, fileNames: false }],
  ['+ file names stand for "file"', { ...SHIPPED, intent: 0 }],
  ['+ read/write intent vs readOnlyHint', { ...SHIPPED, fileNames: false }],
  ['shipped: name boost, file names, read/write intent', SHIPPED],
];

function measure(index, set) {
  let at1 = 0;
  let at5 = 0;
  const misses = [];
  const q0 = performance.now();
  for (const t of set) {
    const top = index.search(t.task, 5).map((h) => h.doc.name);
    if (top[0] === t.tool) at1++;
    if (top.includes(t.tool)) at5++;
    else misses.push({ task: t.task, want: t.tool, got: top });
  }
  return { recallAt1: at1 / set.length, recallAt5: at5 / set.length, perQueryMs: (performance.now() - q0) / set.length, misses };
}

const results = [];
for (const [label, opts] of variants) {
  const t0 = performance.now();
  const index = new ToolIndex(docs, opts);
  const buildMs = performance.now() - t0;
  results.push({ label, buildMs, ...measure(index, tasks), holdout: measure(index, holdout) });
}

// tools/list in each mode, as mcpx answers it (the status and more tools last).
const exposed = catalogs.flatMap((c) => c.tools.map((t) => ({ ...t, name: exposedName(c.server, t.name) })));
const ownTools = [STATUS_TOOL, MORE_TOOL];
const listBytes = (tools) => Buffer.byteLength(JSON.stringify({ tools }));
const off = listBytes([...exposed, ...ownTools]);
const on = listBytes(searchListing(exposed, ownTools, () => false));

const pct = (x) => x.toFixed(2);
console.log(`corpus: ${docs.length} tools from ${catalogs.length} servers (${catalogs.map((c) => `${c.server} ${c.tools.length}`).join(', ')})`);
console.log(`tasks: ${tasks.length}, ${otherWords} of them (${Math.round((100 * otherWords) / tasks.length)}%) share no word with their tool's name; holdout: ${holdout.length} (${inOtherWords(holdout)} in other words)\n`);
console.log('variant'.padEnd(60), 'tasks r@1  r@5 ', ' holdout r@1  r@5 ', ' ms/query');
for (const r of results) console.log(r.label.padEnd(60), '     ' + pct(r.recallAt1), pct(r.recallAt5), '         ' + pct(r.holdout.recallAt1), pct(r.holdout.recallAt5), '  ', r.perQueryMs.toFixed(3));
console.log(`\ntools/list, search off: ${off} bytes ≈ ${Math.round(off / 4)} tokens; search on: ${on} bytes ≈ ${Math.round(on / 4)} tokens (${searchListing(exposed, ownTools, () => false).length} tools)`);
if (process.argv.includes('--misses')) {
  const shipped = results.at(-1);
  console.log(`\nmisses of the shipped ranking (${shipped.misses.length}):`);
  for (const m of [...shipped.misses, ...shipped.holdout.misses]) console.log(`- ${m.task}\n    want ${m.want}\n    got  ${m.got.join(', ')}`);
}
mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
writeFileSync(join(ROOT, 'bench/results/tool-search.json'), JSON.stringify({ tools: docs.length, tasks: tasks.length, otherWords, holdout: holdout.length, results, listBytes: { off, on } }, null, 2));
