#!/usr/bin/env node
// Benchmark of `mcpx standards` (built: run `npx tsc -p tsconfig.json` first; uses dist/ via bin/mcpx.js).
// Generates 2,000 standards into a temp dir, then measures through a real SDK client over stdio:
//   start-up  spawn → initialize answered → tools listed, and → first search answered (index built)
//   search    search_standards round-trip latency over 200 queries (median, p95): mixed queries, common
//             words only (each in most documents: the worst case), and with a `path` filter
// Prints a table; writes bench/results/standards.json.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DOCS = Number(process.env.DOCS ?? 2000);
const QUERIES = Number(process.env.QUERIES ?? 200);
const STARTS = Number(process.env.STARTS ?? 7);
const GOALS = { searchMedianMs: 5, startupMs: 500 };

// Deterministic corpus: same seed, same documents, comparable runs.
let seed = 42;
const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
const pick = (list) => list[Math.floor(rand() * list.length)];
// Zipf-ish: common words much more often than rare ones, like real prose.
const zipf = (list) => list[Math.min(list.length - 1, Math.floor(list.length * rand() ** 2.5))];

const WORDS = (
  'error errors handling retry timeout cache caching database query queries index migration schema validation input output ' +
  'logging log metrics tracing security secret secrets token tokens auth authentication authorization permission role session ' +
  'cookie csrf injection sql escape sanitize encode api rest graphql endpoint pagination cursor filter sort version versioning ' +
  'deprecation header status response request body payload json yaml config configuration environment variable deploy release ' +
  'rollback feature flag test tests testing fixture mock stub flaky coverage integration unit snapshot review pull commit branch ' +
  'naming function functions module modules import export type types interface union generic null undefined promise async await ' +
  'concurrency lock queue worker job scheduler cron batch stream buffer memory leak performance latency throughput benchmark ' +
  'accessibility i18n locale date time timezone currency money rounding float decimal idempotency key uuid id identifier ' +
  'dependency dependencies licence audit upgrade lockfile container docker kubernetes helm terraform network dns tls certificate'
).split(' ');
// The long tail every real corpus has: product names, acronyms, domain terms. Deterministic pseudo-words.
const SYLLABLES = 'ka lo mi ne ru ta vo si de pa zu fe gi ho ja ky lu mo ni pe qu ra so ti ve wa xe yo'.split(' ');
const TERMS = Array.from({ length: 4000 }, (_, i) => {
  let w = '';
  for (let n = i + 7; n > 0; n = Math.floor(n / SYLLABLES.length)) w += SYLLABLES[n % SYLLABLES.length];
  return w + 'x';
});
/** A content word: mostly the common technical vocabulary, sometimes a long-tail term. */
const word = () => (rand() < 0.7 ? zipf(WORDS) : zipf(TERMS));
const FILLER = 'the a of to and in for is that with on be are as by it this we should must not use when from or an each'.split(' ');
const CATEGORIES = ['typescript', 'python', 'go', 'api', 'security', 'testing', 'data', 'ops', 'frontend', 'mobile', 'adr', 'review', 'docs', 'infra', 'observability', 'privacy', 'release', 'performance', 'accessibility', 'process'];
const GLOBS = ['**/*.ts', '**/*.tsx', 'src/**', 'src/api/**', '**/*.py', '**/*.go', '**/*.sql', 'test/**', '**/*.test.ts', 'Dockerfile', 'infra/**/*.tf', 'web/**/*.css'];

function sentence(n) {
  const words = [];
  for (let i = 0; i < n; i++) words.push(rand() < 0.45 ? pick(FILLER) : word());
  return words.join(' ').replace(/^./, (c) => c.toUpperCase()) + '.';
}

function generateCorpus(dir) {
  for (let i = 0; i < DOCS; i++) {
    const category = CATEGORIES[i % CATEGORIES.length];
    const folder = join(dir, category, `area-${Math.floor(i / 200)}`);
    mkdirSync(folder, { recursive: true });
    const title = `${word()} ${zipf(WORDS)} ${pick(['guidelines', 'rules', 'policy', 'conventions'])} ${i}`;
    const tags = [zipf(WORDS), zipf(WORDS), category];
    const globs = [pick(GLOBS), pick(GLOBS)];
    const sections = Array.from({ length: 3 + Math.floor(rand() * 4) }, () =>
      `## ${word()} ${word()}\n\n${Array.from({ length: 4 + Math.floor(rand() * 6) }, () => sentence(10 + Math.floor(rand() * 12))).join(' ')}\n`,
    );
    const text = `---\ntitle: "${title}"\ntags: [${tags.join(', ')}]\nseverity: ${pick(['must', 'should', 'may'])}\napplies_to:\n${globs.map((g) => `  - "${g}"`).join('\n')}\n---\n\n# ${title}\n\n${sections.join('\n')}`;
    writeFileSync(join(folder, `standard-${i}.md`), text);
  }
}

async function connect(dir) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [join(ROOT, 'bin/mcpx.js'), 'standards', '--dir', dir],
    stderr: 'pipe',
    cwd: ROOT,
  });
  const client = new Client({ name: 'bench', version: '1.0.0' });
  return { client, transport };
}

async function startOnce(dir) {
  const { client, transport } = await connect(dir);
  const t0 = performance.now();
  await client.connect(transport); // spawns, sends initialize, waits for the answer
  const initialized = performance.now() - t0;
  await client.listTools();
  const toolsListed = performance.now() - t0;
  const first = await client.callTool({ name: 'search_standards', arguments: { query: 'error handling' } });
  if (first.isError) throw new Error(`first search failed: ${first.content[0]?.text}`);
  const firstSearch = performance.now() - t0;
  return { client, initialized, toolsListed, firstSearch };
}

const median = (xs) => quantile(xs, 0.5);
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}
const ms = (x) => Math.round(x * 100) / 100;

const dir = mkdtempSync(join(tmpdir(), 'mcpx-bench-standards-'));
try {
  const tGen = performance.now();
  generateCorpus(dir);
  console.error(`generated ${DOCS} documents in ${Math.round(performance.now() - tGen)} ms (${dir})`);

  const starts = [];
  for (let i = 0; i < STARTS; i++) {
    const run = await startOnce(dir);
    starts.push(run);
    if (i < STARTS - 1) await run.client.close();
  }
  const { client } = starts[starts.length - 1];

  const indexed = await client.callTool({ name: 'list_standards', arguments: {} });
  const docCount = indexed.structuredContent.categories.reduce((n, c) => n + c.documents.length, 0);
  if (docCount !== DOCS) throw new Error(`expected ${DOCS} documents, the server has ${docCount}`);

  // Mixed queries (1–3 content words, as the corpus is written) and a worst case of common words only,
  // each of which occurs in most of the 2,000 documents.
  const makeQueries = (pickWord) => Array.from({ length: QUERIES }, () => Array.from({ length: 1 + Math.floor(rand() * 3) }, pickWord).join(' '));
  const queries = makeQueries(word);
  const commonQueries = makeQueries(() => zipf(WORDS));
  const measureSearch = async (list, extra = {}) => {
    const out = [];
    for (const query of list) {
      const t = performance.now();
      const r = await client.callTool({ name: 'search_standards', arguments: { query, limit: 10, ...extra } });
      out.push(performance.now() - t);
      if (r.isError) throw new Error(`search "${query}" failed: ${r.content[0]?.text}`);
      totalResults += r.structuredContent.results.length;
    }
    return out;
  };
  let totalResults = 0;
  await measureSearch(queries.slice(0, 20)); // warm-up
  totalResults = 0;
  const latencies = await measureSearch(queries);
  const meanResults = totalResults / QUERIES;
  const commonLatencies = await measureSearch(commonQueries);
  const pathLatencies = await measureSearch(queries, { path: 'src/api/users.ts' });

  // The floor of any call: a JSON-RPC ping through the same stdio pipes and SDK layers.
  const pings = [];
  for (let i = 0; i < QUERIES; i++) {
    const t = performance.now();
    await client.ping();
    pings.push(performance.now() - t);
  }
  await client.close();

  // The same queries in this process, straight on the built modules: the search itself, no transport.
  const { StandardsCatalog } = await import(join(ROOT, 'dist/standards/catalog.js'));
  const { callStandardsTool } = await import(join(ROOT, 'dist/standards/tools.js'));
  const catalog = new StandardsCatalog([dir]);
  await catalog.reload();
  for (const query of queries.slice(0, 20)) callStandardsTool(catalog, 'search_standards', { query });
  const inProcess = queries.map((query) => {
    const t = performance.now();
    callStandardsTool(catalog, 'search_standards', { query, limit: 10 });
    return performance.now() - t;
  });
  catalog.close();

  const results = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    documents: DOCS,
    startup: {
      runs: STARTS,
      initializeMedianMs: ms(median(starts.map((s) => s.initialized))),
      toolsListedMedianMs: ms(median(starts.map((s) => s.toolsListed))),
      firstSearchMedianMs: ms(median(starts.map((s) => s.firstSearch))),
    },
    search: {
      queries: QUERIES,
      medianMs: ms(median(latencies)),
      p95Ms: ms(quantile(latencies, 0.95)),
      maxMs: ms(Math.max(...latencies)),
      meanResults: ms(meanResults),
      commonWordsMedianMs: ms(median(commonLatencies)),
      commonWordsP95Ms: ms(quantile(commonLatencies, 0.95)),
      withPathFilterMedianMs: ms(median(pathLatencies)),
      inProcessMedianMs: ms(median(inProcess)),
      inProcessP95Ms: ms(quantile(inProcess, 0.95)),
      pingMedianMs: ms(median(pings)),
    },
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    goals: GOALS,
  };
  results.pass = {
    startup: results.startup.toolsListedMedianMs < GOALS.startupMs,
    searchMedian: results.search.medianMs < GOALS.searchMedianMs,
  };

  const rows = [
    ['start-up: spawn → initialize answered (median)', results.startup.initializeMedianMs, ''],
    ['start-up: spawn → tools listed (median)', results.startup.toolsListedMedianMs, `goal < ${GOALS.startupMs} ms`],
    [`start-up: spawn → first search answered, ${DOCS} docs indexed (median)`, results.startup.firstSearchMedianMs, ''],
    [`search_standards median (${QUERIES} mixed queries)`, results.search.medianMs, `goal < ${GOALS.searchMedianMs} ms`],
    ['search_standards p95', results.search.p95Ms, ''],
    ['search_standards max', results.search.maxMs, ''],
    ['search_standards + path filter median', results.search.withPathFilterMedianMs, ''],
    ['search_standards, common words only (worst case) median', results.search.commonWordsMedianMs, ''],
    ['search_standards, common words only (worst case) p95', results.search.commonWordsP95Ms, ''],
    ['  of which: search in-process, no transport (median)', results.search.inProcessMedianMs, ''],
    ['  of which: search in-process, no transport (p95)', results.search.inProcessP95Ms, ''],
    ['  floor: ping round trip over stdio (median)', results.search.pingMedianMs, ''],
  ];
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`mcpx standards — ${DOCS} documents, node ${process.version}, ${cpus().length} CPUs, load average ${results.loadAverage.join(' ')}`);
  for (const [label, value, goal] of rows) console.log(`${label.padEnd(width)}  ${String(value).padStart(8)} ms  ${goal}`);

  mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
  writeFileSync(join(ROOT, 'bench/results/standards.json'), JSON.stringify(results, null, 2) + '\n');
  console.log('written: bench/results/standards.json');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
