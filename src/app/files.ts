import { chmodSync, existsSync, lstatSync, readFileSync, readlinkSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { McpxError, errorMessage } from '../errors.js';

/**
 * Small file helpers shared by `mcpx init` and `mcpx import`: where the bundled templates are,
 * JSON read with errors that name the file, and writes that never leave a half-written file.
 */

/** The one `.mcp.json` entry Claude Code needs. */
export const MCPX_ENTRY = Object.freeze({ command: 'mcpx', args: ['serve'] }); // mcpx on PATH: npm install -g (README)

/** `templates/` of the installed package: from dist/app/ it is two levels up. */
export function templatesDir(): string {
  return fileURLToPath(new URL('../../templates/', import.meta.url));
}

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads a JSON object file; `undefined` when it does not exist. Bad JSON exits 2 naming the file. */
export function readJsonObject(file: string): JsonObject | undefined {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new McpxError(`${file}: not valid JSON: ${jsonErrorWhere(errorMessage(e), text)}`, {
      code: 'CONFIG_PARSE',
      file,
      suggestion: 'fix the JSON syntax (comments and trailing commas are not allowed), then run again',
    });
  }
  if (!isObject(raw)) {
    throw new McpxError(`${file}: the top level must be a JSON object`, { code: 'CONFIG_INVALID', file });
  }
  return raw;
}

/**
 * V8 sometimes quotes the file's text in the message (`Unexpected token 'x', "…" is not valid JSON`);
 * a .mcp.json can hold a token, so drop the quote and say line/column instead of a position.
 */
export function jsonErrorWhere(message: string, text: string): string {
  let m = message.replace(/, ".*" is not valid JSON$/s, '');
  const pos = /at position (\d+)/.exec(m);
  if (pos) {
    const before = text.slice(0, Number(pos[1]));
    const line = before.split('\n').length;
    m = m.replace(/ ?(in JSON )?at position \d+.*$/s, ` at line ${line}, column ${before.length - before.lastIndexOf('\n')}`);
  }
  return m;
}

export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/**
 * Write to a temp file beside the target, then rename: a crash never leaves a truncated config. A file
 * that exists keeps its mode (a 0600 .mcp.json holding tokens stays 0600); `newMode` is the mode of one
 * created (default: 0666 less the umask). Through a symlink the file it points at is rewritten and the
 * link stays (a dotfiles repository links .mcp.json from elsewhere).
 */
export function writeFileAtomic(file: string, text: string, opts: { newMode?: number } = {}): void {
  const target = linkTarget(file);
  const mode = existsSync(target) ? statSync(target).mode & 0o7777 : opts.newMode;
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  writeFileSync(tmp, text, { mode: mode ?? 0o666 });
  if (mode !== undefined) chmodSync(tmp, mode); // the mode given at creation is cut by the umask
  renameSync(tmp, target);
}

/** The file a path finally names: itself, or what its symlinks lead to (a dangling link: where it points). */
function linkTarget(file: string): string {
  let path = resolve(file);
  for (let hops = 0; hops < 40; hops++) {
    try {
      return realpathSync(path);
    } catch {
      if (!isLink(path)) return path; // not there yet: created where it is named
      path = resolve(dirname(path), readlinkSync(path));
    }
  }
  throw new McpxError(`${file}: too many levels of symbolic links`, { code: 'USAGE', file });
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The permission bits of a file (to give a file holding the same data no wider access). */
export function fileMode(file: string): number {
  return statSync(file).mode & 0o7777;
}

/** `.mcp.json.bak`, or `.mcp.json.bak.1`, `.2`… when taken: an earlier backup is never clobbered. */
export function freeBackupName(file: string): string {
  let name = `${file}.bak`;
  for (let i = 1; existsSync(name); i++) name = `${file}.bak.${i}`;
  return name;
}
