import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { isRunning } from '../../util/proc.js';

/**
 * A lock shared by every mcpx process on one state directory: a file created with O_EXCL holding the
 * owner's pid and the time it was taken. A crashed owner cannot hold it forever: a lock whose pid is
 * gone, or older than STALE_MS (a refresh gives up after 30 s: session.ts), is removed by the next process that wants it.
 */
const STALE_MS = 60_000;
const POLL_MS = 25;

interface Holder {
  pid: number;
  at: number;
}

export async function withFileLock<T>(file: string, waitMs: number, fn: () => Promise<T>): Promise<T> {
  const release = await acquire(file, waitMs);
  try {
    return await fn();
  } finally {
    release();
  }
}

async function acquire(file: string, waitMs: number): Promise<() => void> {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const until = Date.now() + waitMs;
  const mine = JSON.stringify({ pid: process.pid, at: Date.now() } satisfies Holder);
  for (;;) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, mine);
      closeSync(fd);
      return () => {
        // Only our own lock: one judged stale and taken over by another process is theirs now.
        if (readHolder(file) === mine) rmSync(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const held = readHolder(file);
    if (held !== undefined && isStale(file, held)) {
      // Removed only if it is still the stale one read just now (another waiter may have replaced it).
      if (readHolder(file) === held) rmSync(file, { force: true });
      continue;
    }
    if (Date.now() >= until) throw new Error(`another mcpx process holds ${file} (waited ${waitMs} ms)`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function readHolder(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function isStale(file: string, text: string): boolean {
  let h: Partial<Holder>;
  try {
    h = JSON.parse(text) as Partial<Holder>;
  } catch {
    // Read between its owner's open and write, or left by a crash at that moment: stale once a few seconds old.
    try {
      return Date.now() - statSync(file).mtimeMs > 5_000;
    } catch {
      return false;
    }
  }
  if (typeof h.pid !== 'number' || typeof h.at !== 'number') return true;
  return (h.pid !== process.pid && !isRunning(h.pid)) || Date.now() - h.at > STALE_MS;
}
