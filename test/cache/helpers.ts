import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach } from 'vitest';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Logger } from '../../src/util/log.js';
import { ROOT, tempDir as sharedTempDir } from '../helpers/mcpx.js';

export { ROOT, runNode, type Ran } from '../helpers/mcpx.js';
export const FIXTURES = join(ROOT, 'test/fixtures/cache');

/** A fresh temp dir, removed when the test file is done. */
export function tempDir(): string {
  return sharedTempDir('mcpx-cache-');
}

/** A logger that keeps its lines, so tests can count warnings. */
export function captureLog(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: new Logger('debug', sink), lines };
}

export interface Holder {
  pid: number;
  /** Ends its transaction and waits for it to exit. */
  release(): Promise<void>;
}

const holders: ChildProcess[] = [];
afterEach(() => {
  for (const h of holders.splice(0)) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
});

/**
 * Another process holding the cache database (test/fixtures/cache/lock.mjs): the write lock, or an
 * open read transaction; with `serve`, also a fresh heartbeat in `status`, as `mcpx serve` writes.
 */
export async function holdDatabase(dir: string, mode: 'write' | 'read', opts: { serve?: boolean } = {}): Promise<Holder> {
  const child = spawn(process.execPath, [join(FIXTURES, 'lock.mjs'), dir, mode, ...(opts.serve ? ['serve'] : [])], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  holders.push(child);
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  await new Promise<void>((res, rej) => {
    child.stdout!.on('data', (d) => String(d).includes('locked') && res());
    void exited.then(() => rej(new Error(`lock holder exited early: ${stderr}`)));
  });
  return {
    pid: child.pid!,
    release: async () => {
      child.stdin!.end();
      await exited;
    },
  };
}
