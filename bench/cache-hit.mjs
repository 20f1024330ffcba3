// L1 hit vs SQLite (L1-miss) hit, in microseconds per get(). Build first; usage: node bench/cache-hit.mjs [resultBytes]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase, SqliteResultStore } from '../dist/cache/index.js';

const size = Number(process.argv[2] ?? 2000);
const dir = mkdtempSync(join(tmpdir(), 'mcpx-bench-'));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const cdb = openDatabase(dir);
const result = { content: [{ type: 'text', text: 'x'.repeat(size) }] };
const N = Math.min(2000, Math.floor(12e6 / size));
const writer = new SqliteResultStore(cdb, { maxEntryBytes: 1 << 22, maxMb: 512 });
for (let i = 0; i < N; i++) writer.put({ key: `k${i}`, server: 's', tool: 't', result, ttlMs: 3.6e6, staleTtlMs: 0 });
writer.close();

const time = (label, store, rounds) => {
  const t0 = process.hrtime.bigint();
  let n = 0;
  for (let r = 0; r < rounds; r++) for (let i = 0; i < N; i++) if (store.get(`k${i}`)) n++;
  const us = Number(process.hrtime.bigint() - t0) / 1000 / (rounds * N);
  console.log(`${label.padEnd(30)} ${us.toFixed(2)} µs/get  (${n} hits)`);
};
// SQLite path: an L1 too small to hold anything, so every get reads and parses the row.
const cold = new SqliteResultStore(cdb, { maxEntryBytes: 1 << 22, maxMb: 512, l1MaxBytes: 1 });
time('warm-up sqlite', cold, 1);
time(`SQLite hit (${size} B result)`, cold, 5);
const hot = new SqliteResultStore(cdb, { maxEntryBytes: 1 << 22, maxMb: 512 });
time('fill L1', hot, 1);
time(`L1 hit (${size} B result)`, hot, 50);
cold.close(); hot.close(); cdb.close();
