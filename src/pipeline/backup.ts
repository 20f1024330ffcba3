import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';

/**
 * The last fallback: a folder of local copies (Markdown, text, HTML, JSON; say a git-synced export of
 * the Confluence space) searched for the words of the call's arguments. Rare path: files are read on
 * demand, scored by how many query words they hold (title and path count double), best first.
 */
const EXTENSIONS = new Set(['.md', '.markdown', '.txt', '.html', '.htm', '.json', '.rst', '.adoc']);
const MAX_FILES = 5000;
const MAX_FILE_BYTES = 2 * 1024 * 1024;
const MAX_ANSWER_CHARS = 12_000;

export interface BackupHit {
  path: string;
  score: number;
  text: string;
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
  return [...new Set(strings.join(' ').toLowerCase().match(/[\p{L}\p{N}_-]{3,}/gu) ?? [])];
}

export async function searchBackup(dir: string, args: unknown, limit = 3): Promise<BackupHit[]> {
  const words = queryWords(args);
  if (!words.length) return [];
  const hits: BackupHit[] = [];
  for (const path of await listFiles(dir)) {
    let text: string;
    try {
      if ((await stat(path)).size > MAX_FILE_BYTES) continue;
      text = await readFile(path, 'utf8');
    } catch {
      continue;
    }
    if (/\.html?$/.test(path)) text = text.replace(/<script[\s\S]*?<\/script>|<style[\s\S]*?<\/style>/gi, '').replace(/<[^>]+>/g, ' ');
    const body = text.toLowerCase();
    const name = relative(dir, path).toLowerCase();
    let score = 0;
    for (const w of words) {
      const n = count(body, w);
      if (n) score += 1 + Math.log(n);
      if (name.includes(w)) score += 2;
    }
    if (score > 0) hits.push({ path, score, text });
  }
  return hits.sort((a, b) => b.score - a.score).slice(0, limit);
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

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (out.length >= MAX_FILES) return;
      if (e.name.startsWith('.') || e.name === 'node_modules') continue;
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
    }
  };
  await walk(dir);
  return out;
}

function count(haystack: string, needle: string): number {
  let n = 0;
  for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + needle.length)) n++;
  return n;
}
