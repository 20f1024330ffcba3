import { readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, relative, sep } from 'node:path';
import { MARKDOWN_EXTENSIONS, StandardParseError, YAML_EXTENSIONS, parseStandardFile } from './parse.js';
import type { StandardDoc } from './types.js';

/**
 * Folders → documents. Reads every Markdown and YAML file under the folders (hidden entries and
 * node_modules skipped); a file that cannot be read or parsed is reported as a warning and skipped,
 * never thrown. Parsed files are remembered by (mtime, size) so a reload after a change re-parses only
 * what changed, and warns only about files that changed.
 *
 * I/O is synchronous on purpose: for thousands of small files, sync stat/read is several times faster
 * than fs/promises (one thread-pool round trip per call). The work is cut into slices of a few
 * milliseconds with a yield to the event loop between them, so the server keeps answering requests
 * (initialize, tools/list) promptly while a large folder loads.
 */
export interface LoadResult {
  docs: StandardDoc[];
  /** One line each, naming the file. */
  warnings: string[];
}

/** Beyond this a "standard" is almost certainly a mistake (a log, a dump) and would bloat the index. */
const MAX_FILE_BYTES = 1024 * 1024;
/** Longest stretch of loading between two yields to the event loop. */
const SLICE_MS = 8;

interface CachedFile {
  mtimeMs: number;
  size: number;
  docs: StandardDoc[];
}

export class StandardsLoader {
  private readonly parsed = new Map<string, CachedFile>();
  /** Symlinks that lead out of their folder, already warned about. */
  private escaping = new Set<string>();

  constructor(private readonly dirs: readonly string[]) {}

  async load(): Promise<LoadResult> {
    const warnings: string[] = [];
    const files: { file: string; relPath: string }[] = [];
    const escaping = new Set<string>();
    for (const dir of this.dirs) {
      for (const file of listStandardFiles(dir, warnings, escaping)) files.push({ file, relPath: relative(dir, file).split(sep).join('/') });
    }
    // Once per link, not on every reload.
    for (const link of escaping) if (!this.escaping.has(link)) warnings.push(`${link}: skipped: a symlink that leads outside its standards folder`);
    this.escaping = escaping;

    const perFile: StandardDoc[][] = [];
    let sliceStart = performance.now();
    for (const file of files) {
      if (performance.now() - sliceStart > SLICE_MS) {
        await new Promise((r) => setImmediate(r));
        sliceStart = performance.now();
      }
      perFile.push(this.loadFile(file, warnings));
    }

    const seen = new Set(files.map((f) => f.file));
    for (const file of this.parsed.keys()) if (!seen.has(file)) this.parsed.delete(file);

    // The first folder (then path order) wins an id: a later duplicate would make the id ambiguous.
    const byId = new Map<string, StandardDoc>();
    for (const doc of perFile.flat()) {
      const first = byId.get(doc.id);
      if (first) warnings.push(`${doc.file}: skipped: id "${doc.id}" is already used by ${first.file}`);
      else byId.set(doc.id, doc);
    }
    return { docs: [...byId.values()], warnings };
  }

  private loadFile(info: { file: string; relPath: string }, warnings: string[]): StandardDoc[] {
    try {
      const st = statSync(info.file);
      const cached = this.parsed.get(info.file);
      if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.docs;
      // A bad file is remembered as empty, so it warns once, not on every reload.
      const remember = (docs: StandardDoc[]) => (this.parsed.set(info.file, { mtimeMs: st.mtimeMs, size: st.size, docs }), docs);
      if (st.size > MAX_FILE_BYTES) {
        warnings.push(`${info.file}: skipped: larger than ${MAX_FILE_BYTES / 1024} KiB`);
        return remember([]);
      }
      let content: string;
      try {
        content = readFileSync(info.file, 'utf8');
      } catch (e) {
        warnings.push(`${info.file}: skipped: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
        return remember([]);
      }
      try {
        const { docs, warnings: ruleWarnings } = parseStandardFile(info, content);
        for (const w of ruleWarnings) warnings.push(`${info.file}: skipped ${w}`);
        return remember(docs);
      } catch (e) {
        if (!(e instanceof StandardParseError)) throw e;
        warnings.push(`${info.file}: skipped: ${e.message}`);
        return remember([]);
      }
    } catch (e) {
      // Deleted between listing and reading (an editor's save dance): the next reload sees the truth.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      if (e instanceof Error && 'code' in e) {
        warnings.push(`${info.file}: skipped: cannot read it (${(e as NodeJS.ErrnoException).code})`);
        return [];
      }
      throw e;
    }
  }
}

/**
 * Every .md/.markdown/.yaml/.yml file under dir, sorted, so ids and "first wins" are deterministic.
 * A symlink is followed only when it stays inside dir: one that leads out (a file or a folder
 * elsewhere, such as ~/.ssh) is skipped and put in `escaping`, so the server serves only its folder.
 */
function listStandardFiles(dir: string, warnings: string[], escaping: Set<string>): string[] {
  const out: string[] = [];
  let root: string;
  try {
    root = realpathSync(dir);
  } catch {
    root = dir; // missing: the walk below says nothing, as before
  }
  const walk = (folder: string): void => {
    let entries;
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') warnings.push(`${folder}: skipped folder: cannot read it (${code ?? String(e)})`);
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(folder, entry.name);
      if (entry.isSymbolicLink() && !staysInside(path, root)) {
        escaping.add(path);
        continue;
      }
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile() || entry.isSymbolicLink()) {
        const ext = extname(entry.name).toLowerCase();
        if (MARKDOWN_EXTENSIONS.has(ext) || YAML_EXTENSIONS.has(ext)) out.push(path);
      }
    }
  };
  walk(dir);
  return out;
}

/** True when the symlink's target is inside root; a dangling link counts as inside (reading it finds nothing). */
function staysInside(link: string, root: string): boolean {
  let target: string;
  try {
    target = realpathSync(link);
  } catch {
    return true;
  }
  const rel = relative(root, target);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}
