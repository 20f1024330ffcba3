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
