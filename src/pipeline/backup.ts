import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { errorMessage } from '../errors.js';
import { log as defaultLog, type Logger } from '../util/log.js';

/**
 * The last fallback: a folder of local copies (Markdown, text, HTML, JSON; say a git-synced export of
 * the Confluence space) searched for the words of the call's arguments.
 *
 * Each folder gets an in-memory SQLite FTS5 index (BM25; words of the file's path weigh double), built
 * on its first search and brought up to date when files appear, go or change (mtime or size), looked
 * at no more than every RESCAN_MS: a failed call never re-reads every file. The index is built in the
 * background and shared by every search of the folder. A search waits for it at most its time limit,
 * or until its signal aborts (then it rejects with the signal's reason); the build goes on for the
 * next search. Problems with the folder are logged, naming it, once each.
 */
const EXTENSIONS = new Set(['.md', '.markdown', '.txt', '.html', '.htm', '.json', '.rst', '.adoc']);
const MAX_FILES = 5000;
const MAX_FILE_BYTES = 2 * 1024 * 1024;
/** Text held by one folder's index; files past it are left out (and that is logged). */
const MAX_INDEX_BYTES = 64 * 1024 * 1024;
const MAX_ANSWER_CHARS = 12_000;
const LIMIT = 3;
/** A search waits this long for the index by default (the call has already waited for the child). */
export const BACKUP_TIMEOUT_MS = 1000;
/** The folder is listed again (stat only) at most this often. */
const RESCAN_MS = 2000;

export interface BackupHit {
  path: string;
  score: number;
  text: string;
}

export interface BackupSearchOptions {
  signal?: AbortSignal;
  /** How long to wait for the index (default BACKUP_TIMEOUT_MS); past it the answer is "nothing found". */
  timeoutMs?: number;
  log?: Logger;
}

/** Words of every string in the arguments (lower case, 3+ characters). */
export function queryWords(args: unknown): string[] {
  const strings: string[] = [];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') strings.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(args);
  return [...new Set(strings.join(' ').toLowerCase().match(/[\p{L}\p{N}_-]{3,}/gu) ?? [])].filter((w) => /[\p{L}\p{N}]/u.test(w));
}

export async function searchBackup(dir: string, args: unknown, opts: BackupSearchOptions = {}): Promise<BackupHit[]> {
  opts.signal?.throwIfAborted();
  const words = queryWords(args);
  if (!words.length) return [];
  const index = indexFor(dir, opts.log ?? defaultLog);
  const timeoutMs = opts.timeoutMs ?? BACKUP_TIMEOUT_MS;
  if (!(await within(index.refresh(), timeoutMs, opts.signal))) {
    index.warnOnce('late', `backup folder ${dir}: its index was not ready within ${timeoutMs} ms (${index.size} files so far); answering without it this time`);
    return [];
  }
  return index.search(words, LIMIT);
}

/** The answer text: each file's path, then its text, within a size budget. */
export function formatBackup(server: string, dir: string, hits: BackupHit[]): string {
  const per = Math.floor(MAX_ANSWER_CHARS / hits.length);
  const parts = hits.map((h) => {
    const body = h.text.length > per ? `${h.text.slice(0, per)}\n[… truncated]` : h.text;
    return `--- ${h.path} ---\n${body.trim()}`;
  });
  return `${server} is unavailable; these are the best matching local copies from ${dir}:\n\n${parts.join('\n\n')}`;
}

/** Forgets every folder's index (tests; a long-lived process keeps them). */
export function closeBackupIndexes(): void {
  for (const i of indexes.values()) i.close();
  indexes.clear();
}

const indexes = new Map<string, BackupIndex>();

function indexFor(dir: string, log: Logger): BackupIndex {
  let i = indexes.get(dir);
  if (!i) indexes.set(dir, (i = new BackupIndex(dir, log)));
  return i;
}

/**
 * True when work settles in time, false when the time limit passes first; rejects when the signal
 * aborts. The timer is set before anything is awaited (so that fake timers can drive it).
 */
function within(work: Promise<void>, ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onAbort = () => finish(() => reject(signal!.reason));
    const timer = setTimeout(() => finish(() => resolve(false)), ms);
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      settle();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(() => finish(() => resolve(true)), () => finish(() => resolve(true)));
  });
}

interface Indexed {
  rowid: number;
  mtimeMs: number;
  size: number;
  bytes: number;
}

class BackupIndex {
  private readonly db = new Database(':memory:');
  private readonly files = new Map<string, Indexed>();
  private readonly insert;
  private readonly remove;
  private readonly ranked;
  private readonly pathOf = new Map<number, string>();
  private nextRowid = 1;
  private bytes = 0;
  private scanning: Promise<void> | undefined;
  private scannedAt = -Infinity;
  private readonly warned = new Set<string>();

  constructor(
    private readonly dir: string,
    private readonly log: Logger,
  ) {
    this.db.exec(`CREATE VIRTUAL TABLE files USING fts5(name, body, tokenize = 'unicode61 remove_diacritics 2')`);
    this.insert = this.db.prepare('INSERT INTO files (rowid, name, body) VALUES (?, ?, ?)');
    this.remove = this.db.prepare('DELETE FROM files WHERE rowid = ?');
    this.ranked = this.db.prepare('SELECT rowid, bm25(files, 2, 1) AS rank, body FROM files WHERE files MATCH ? ORDER BY rank LIMIT ?');
  }

  get size(): number {
    return this.files.size;
  }

  /** Brings the index up to date (one scan at a time, at most every RESCAN_MS); never rejects. */
  refresh(): Promise<void> {
    if (this.scanning) return this.scanning;
    if (performance.now() - this.scannedAt < RESCAN_MS) return Promise.resolve();
    this.scanning = this.scan()
      .catch((e) => this.warnOnce(`scan:${errorMessage(e)}`, `backup folder ${this.dir} could not be indexed: ${errorMessage(e)}`))
      .finally(() => {
        this.scannedAt = performance.now();
        this.scanning = undefined;
      });
    return this.scanning;
  }

  search(words: string[], limit: number): BackupHit[] {
    // Each word a quoted prefix ("deploy" finds "deployment"): operators in the arguments stay plain text.
    const match = words.map((w) => `"${w.replace(/"/g, '""')}"*`).join(' OR ');
    try {
      const rows = this.ranked.all(match, limit) as { rowid: number; rank: number; body: string }[];
      return rows.map((r) => ({ path: this.pathOf.get(r.rowid)!, score: Math.round(-r.rank * 1000) / 1000, text: r.body }));
    } catch (e) {
      this.warnOnce(`search:${errorMessage(e)}`, `backup folder ${this.dir}: search failed (${errorMessage(e)})`);
      return [];
    }
  }

  warnOnce(id: string, message: string): void {
    if (this.warned.has(id)) return;
    this.warned.add(id);
    this.log.warn(message);
  }

  close(): void {
    this.db.close();
  }

  private async scan(): Promise<void> {
    const found = await this.list();
    for (const [path, f] of this.files) if (!found.has(path)) this.drop(path, f);
    for (const [path, s] of found) {
      const old = this.files.get(path);
      if (old && old.mtimeMs === s.mtimeMs && old.size === s.size) continue;
      if (old) this.drop(path, old);
      if (s.size > MAX_FILE_BYTES) continue;
      if (this.bytes + s.size > MAX_INDEX_BYTES) {
        this.warnOnce('full', `backup folder ${this.dir} holds more than ${MAX_INDEX_BYTES / 1024 / 1024} MB of text; only part of it is searched`);
        continue;
      }
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (e) {
        this.warnOnce(`read:${path}`, `backup folder ${this.dir}: could not read ${path} (${errorMessage(e)})`);
        continue;
      }
      if (/\.html?$/i.test(path)) text = text.replace(/<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>/gi, '').replace(/<[^>]+>/g, ' ');
      const rowid = this.nextRowid++;
      this.insert.run(rowid, relative(this.dir, path), text);
      this.files.set(path, { rowid, mtimeMs: s.mtimeMs, size: s.size, bytes: text.length });
      this.pathOf.set(rowid, path);
      this.bytes += text.length;
    }
  }

  private drop(path: string, f: Indexed): void {
    this.remove.run(f.rowid);
    this.files.delete(path);
    this.pathOf.delete(f.rowid);
    this.bytes -= f.bytes;
  }

  /** path → mtime and size of every file that could be a copy (stat only; nothing is read here). */
  private async list(): Promise<Map<string, { mtimeMs: number; size: number }>> {
    const out = new Map<string, { mtimeMs: number; size: number }>();
    const walk = async (d: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(d, { withFileTypes: true });
      } catch (e) {
        if (d === this.dir) throw e; // the folder itself: logged by refresh()
        this.warnOnce(`readdir:${d}`, `backup folder ${this.dir}: could not list ${d} (${errorMessage(e)})`);
        return;
      }
      for (const e of entries) {
        if (out.size >= MAX_FILES) return;
        if (e.name.startsWith('.') || e.name === 'node_modules') continue;
        const p = join(d, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile() && EXTENSIONS.has(extname(e.name).toLowerCase())) {
          try {
            const s = await stat(p);
            out.set(p, { mtimeMs: s.mtimeMs, size: s.size });
          } catch {
            /* gone since it was listed */
          }
        }
      }
    };
    await walk(this.dir);
    return out;
  }
}
