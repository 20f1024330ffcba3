// Preload for bench/promoted.mjs (`node --import`): V8's sampling heap profiler in the process itself.
// SIGUSR1 starts a window, SIGUSR2 ends it and writes the profile to $PROMOTED_PROFILE.<n>.json. Odd
// windows sample every allocation, even ones only what a full GC collected (what outlived the young
// generation and was promoted before it died).
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

const session = new Session();
session.connect();
const post = (method, params) => new Promise((res, rej) => session.post(method, params, (e, r) => (e ? rej(e) : res(r))));
let window = 0;
process.on('SIGUSR1', async () => {
  window++;
  await post('HeapProfiler.enable');
  await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: window % 2 === 1 });
  writeFileSync(`${process.env.PROMOTED_PROFILE}.${window}.started`, '');
});
process.on('SIGUSR2', async () => {
  const { profile } = await post('HeapProfiler.stopSampling');
  writeFileSync(`${process.env.PROMOTED_PROFILE}.${window}.json`, JSON.stringify(profile));
});
