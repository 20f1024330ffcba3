// The backup-folder search uses an index (not a read of every file per failed call), has a
// time limit, honours cancellation and reports its own problems, naming the folder.
import { mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { closeBackupIndexes, searchBackup } from '../../src/pipeline/backup.js';
import { captureLog, tempDir } from '../cache/helpers.js';

afterEach(() => {
  vi.useRealTimers();
  closeBackupIndexes();
});

/** A fixed mtime (whole seconds), so that a rewritten file can be given back exactly the same one. */
const MTIME = 1_700_000_000;
function write(path: string, text: string, mtime = MTIME): void {
  writeFileSync(path, text);
  utimesSync(path, mtime, mtime);
}

const HOLIDAYS = '# Holidays\n\nThe office is closed on public holidays.\n';
function backupDir(): string {
  const dir = tempDir();
  mkdirSync(join(dir, 'ops'));
  write(join(dir, 'ops', 'deployment-checklist.md'), '# Deployment checklist\n\nBefore a deployment: run the migrations, then the smoke tests.\n');
  write(join(dir, 'holidays.md'), HOLIDAYS);
  write(join(dir, 'page.html'), '<html><script>var deployment = 1;</script><p>Rollback steps for a failed release</p></html>');
  return dir;
}

const paths = (hits: { path: string }[]) => hits.map((h) => h.path);

describe('backup folder search', () => {
  it('finds files through its index, best first; only new, changed or removed files are looked at again', async () => {
    vi.useFakeTimers({ toFake: ['performance'] }); // the rescan interval; file I/O stays real
    const dir = backupDir();
    const deploy = join(dir, 'ops', 'deployment-checklist.md');
    const first = await searchBackup(dir, { query: 'deployment checklist' });
    expect(paths(first)).toEqual([deploy]); // the word inside <script> is not text
    expect(first[0]!.text).toContain('run the migrations');
    expect(paths(await searchBackup(dir, { q: 'rollback' }))).toEqual([join(dir, 'page.html')]);
    expect(paths(await searchBackup(dir, { q: 'deploy' }))).toEqual([deploy]); // a word is a prefix

    // Same size and mtime, other words: the index keeps what it read (a file is not read per search).
    write(join(dir, 'holidays.md'), HOLIDAYS.replace('public', 'zebras'));
    write(join(dir, 'zebra-care.md'), 'Feed the zebra twice a day.');
    vi.advanceTimersByTime(5000);
    expect(paths(await searchBackup(dir, { q: 'zebra' }))).toEqual([join(dir, 'zebra-care.md')]);

    utimesSync(join(dir, 'holidays.md'), MTIME + 60, MTIME + 60); // now it changed
    rmSync(join(dir, 'zebra-care.md'));
    vi.advanceTimersByTime(5000);
    expect(paths(await searchBackup(dir, { q: 'zebra' }))).toEqual([join(dir, 'holidays.md')]);
  });

  it('answers "nothing" when its index is not ready within the time limit, and has it for the next call', async () => {
    const dir = backupDir();
    const { log, lines } = captureLog();
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const late = searchBackup(dir, { query: 'deployment' }, { timeoutMs: 50, log });
    vi.advanceTimersByTime(50); // before any file could be read
    expect(await late).toEqual([]);
    vi.useRealTimers();
    expect(lines).toEqual([expect.stringMatching(new RegExp(`warn: backup folder ${dir}: its index was not ready within 50 ms`))]);
    expect(paths(await searchBackup(dir, { query: 'deployment' }, { timeoutMs: 60_000, log }))).toEqual([join(dir, 'ops', 'deployment-checklist.md')]);
  });

  it('honours cancellation: an aborted signal rejects at once, an abort while waiting rejects with its reason', async () => {
    const gone = new AbortController();
    gone.abort(new Error('cancelled before'));
    await expect(searchBackup(backupDir(), { q: 'deployment' }, { signal: gone.signal })).rejects.toThrow('cancelled before');
    const upstream = new AbortController();
    const pending = searchBackup(backupDir(), { q: 'deployment' }, { signal: upstream.signal, timeoutMs: 60_000 });
    upstream.abort(new Error('cancelled upstream'));
    await expect(pending).rejects.toThrow('cancelled upstream');
  });

  it('reports its own problems: a missing folder is one warning naming it, not a silent empty answer', async () => {
    const missing = join(tempDir(), 'no-such-backup');
    const { log, lines } = captureLog();
    expect(await searchBackup(missing, { q: 'deployment' }, { log })).toEqual([]);
    expect(await searchBackup(missing, { q: 'deployment' }, { log })).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`warn: backup folder ${missing} could not be indexed: .*ENOENT`));
  });
});
