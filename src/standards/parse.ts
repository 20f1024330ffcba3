import { createHash } from 'node:crypto';
import { basename, extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { StandardDoc } from './types.js';

/**
 * Pure parsing: file content → documents. No I/O, so load.ts decides what to do with failures
 * (skip the file and warn) and tests can feed strings.
 */
export class StandardParseError extends Error {}

/** Where a file sits: its relative path (posix separators) decides its default id and category. */
export interface FileInfo {
  file: string;
  relPath: string;
}

export const MARKDOWN_EXTENSIONS = new Set(['.md', '.markdown']);
export const YAML_EXTENSIONS = new Set(['.yaml', '.yml']);

export function parseStandardFile(info: FileInfo, content: string): { docs: StandardDoc[]; warnings: string[] } {
  const ext = extname(info.relPath).toLowerCase();
  if (MARKDOWN_EXTENSIONS.has(ext)) return { docs: [parseMarkdown(info, content)], warnings: [] };
  if (YAML_EXTENSIONS.has(ext)) return parseRuleSet(info, content);
  throw new StandardParseError(`unsupported file type ${ext}`);
}

export function parseMarkdown(info: FileInfo, content: string): StandardDoc {
  const { meta, body } = splitFrontMatter(content);
  const fields = readCommonFields(meta, 'front matter');
  const title = str(meta.title, 'title') ?? firstHeading(body) ?? titleFromFileName(info.relPath);
  return finish({
    id: withoutExtension(info.relPath),
    title,
    category: fields.category ?? folderCategory(info.relPath),
    tags: fields.tags,
    severity: fields.severity,
    appliesTo: fields.appliesTo,
    text: body.trim() + '\n',
    file: info.file,
  });
}

/**
 * A YAML rule set: either a list of rules, or `{category, tags, severity, applies_to, rules: [...]}`
 * whose top-level fields are defaults for every rule. A malformed rule is skipped (with a warning), the
 * rest of the file still loads.
 */
export function parseRuleSet(info: FileInfo, content: string): { docs: StandardDoc[]; warnings: string[] } {
  let data: unknown;
  try {
    data = parseYaml(content, { prettyErrors: false });
  } catch (e) {
    throw new StandardParseError(`invalid YAML: ${firstLine(e)}`);
  }
  const isList = Array.isArray(data);
  if (!isList && !(isRecord(data) && Array.isArray(data.rules))) {
    throw new StandardParseError('expected a list of rules, or an object with a `rules` list');
  }
  const fileMeta: Record<string, unknown> = isList ? {} : (data as Record<string, unknown>);
  const defaults = readCommonFields(fileMeta, 'rule set');
  const rules = (isList ? data : fileMeta.rules) as unknown[];
  const docs: StandardDoc[] = [];
  const warnings: string[] = [];
  rules.forEach((rule, i) => {
    try {
      if (!isRecord(rule)) throw new StandardParseError('is not a mapping');
      const fields = readCommonFields(rule, 'rule');
      const title = str(rule.title, 'title') ?? str(rule.id, 'id');
      if (!title) throw new StandardParseError('has neither `id` nor `title`');
      const id = str(rule.id, 'id') ?? `${withoutExtension(info.relPath)}/${slug(title)}`;
      docs.push(
        finish({
          id,
          title,
          category: fields.category ?? defaults.category ?? folderCategory(info.relPath),
          tags: [...new Set([...defaults.tags, ...fields.tags])],
          severity: fields.severity ?? defaults.severity,
          appliesTo: fields.appliesTo.length > 0 ? fields.appliesTo : defaults.appliesTo,
          text: renderRule(id, title, fields.severity ?? defaults.severity, rule),
          file: info.file,
        }),
      );
    } catch (e) {
      if (!(e instanceof StandardParseError)) throw e;
      warnings.push(`rule ${i + 1}${isRecord(rule) && typeof rule.id === 'string' ? ` (${rule.id})` : ''} ${e.message}`);
    }
  });
  return { docs, warnings };
}

/** `---\n yaml \n---\n body`; no front matter at all is fine, a broken one is an error. */
export function splitFrontMatter(content: string): { meta: Record<string, unknown>; body: string } {
  const text = content.replace(/^\uFEFF/, '');
  const firstBreak = text.indexOf('\n');
  if (text.slice(0, firstBreak === -1 ? undefined : firstBreak).trimEnd() !== '---') return { meta: {}, body: text };
  const close = /^(?:---|\.\.\.)[ \t]*\r?$/m;
  const rest = text.slice(firstBreak + 1);
  const end = close.exec(rest);
  if (!end) throw new StandardParseError('front matter is not closed by a `---` line');
  let meta: unknown;
  try {
    meta = parseYaml(rest.slice(0, end.index), { prettyErrors: false });
  } catch (e) {
    throw new StandardParseError(`invalid front matter: ${firstLine(e)}`);
  }
  if (meta !== null && meta !== undefined && !isRecord(meta)) {
    throw new StandardParseError('front matter must be a mapping of `key: value` lines');
  }
  return { meta: (meta as Record<string, unknown> | null) ?? {}, body: rest.slice(end.index + end[0].length).replace(/^\n/, '') };
}

function readCommonFields(meta: Record<string, unknown>, where: string) {
  try {
    return {
      category: str(meta.category, 'category'),
      tags: strList(meta.tags, 'tags').map((t) => t.toLowerCase()),
      severity: str(meta.severity, 'severity'),
      appliesTo: strList(meta.applies_to, 'applies_to'),
    };
  } catch (e) {
    if (e instanceof StandardParseError) throw new StandardParseError(`${where}: ${e.message}`);
    throw e;
  }
}

function renderRule(id: string, title: string, severity: string | undefined, rule: Record<string, unknown>): string {
  const parts = [`# ${title}`, `Rule \`${id}\`${severity ? ` · severity: ${severity}` : ''}`];
  const description = str(rule.description, 'description');
  if (description) parts.push(description.trim());
  const examples = rule.examples === undefined ? [] : Array.isArray(rule.examples) ? rule.examples : [rule.examples];
  if (examples.length > 0) parts.push('## Examples', ...examples.map(renderExample));
  return parts.join('\n\n') + '\n';
}

/** A string is shown as code; a mapping such as `{bad: ..., good: ...}` as one labelled block per key. */
function renderExample(example: unknown): string {
  if (isRecord(example)) {
    return Object.entries(example)
      .map(([label, value]) => `**${label[0]?.toUpperCase()}${label.slice(1)}:**\n\n${codeBlock(String(value))}`)
      .join('\n\n');
  }
  return codeBlock(String(example));
}

function codeBlock(code: string): string {
  return code.includes('```') ? code.trim() : '```\n' + code.trimEnd() + '\n```';
}

function finish(doc: Omit<StandardDoc, 'hash'>): StandardDoc {
  const { file: _file, ...visible } = doc;
  return { ...doc, hash: createHash('sha1').update(JSON.stringify(visible)).digest('hex') };
}

function firstHeading(body: string): string | undefined {
  let inFence = false;
  for (const line of body.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const m = !inFence && /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/** Files at the top of a standards folder get `general`; others the name of their top folder. */
function folderCategory(relPath: string): string {
  const slash = relPath.indexOf('/');
  return slash === -1 ? 'general' : relPath.slice(0, slash);
}

function withoutExtension(relPath: string): string {
  return relPath.slice(0, relPath.length - extname(relPath).length);
}

function titleFromFileName(relPath: string): string {
  const name = basename(withoutExtension(relPath)).replace(/[-_]+/g, ' ').trim();
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '-').replace(/^-|-$/g, '') || 'rule';
}

function str(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value.trim() || undefined;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new StandardParseError(`\`${field}\` must be a string, got ${JSON.stringify(value)}`);
}

function strList(value: unknown, field: string): string[] {
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.map((v) => str(v, field)).filter((v): v is string => v !== undefined);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0] ?? '';
}
