import type { CallToolResult, Tool } from '@modelcontextprotocol/server';
import type { StandardsCatalog } from './catalog.js';
import { appliesToPath, pathMatcher } from './match.js';
import { MAX_QUERY_CHARS, sanitizeQuery } from './query.js';
import { renderStandards } from './render.js';
import type { StandardDoc } from './types.js';
import { standardUri } from './uri.js';

/**
 * The four read-only tools: definitions (JSON Schema in, JSON Schema out) and handlers. A handler
 * never throws for bad input: it returns `isError: true` with a sentence the model can act on.
 */
const readOnly = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };
const DEFAULT_LIMIT = 5;
const MAX_LIMIT = 50;

const docSummarySchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    uri: { type: 'string' },
    title: { type: 'string' },
    category: { type: 'string' },
    tags: { type: 'array', items: { type: 'string' } },
    severity: { type: 'string' },
  },
  required: ['id', 'uri', 'title', 'category', 'tags'],
} as const;

export const STANDARDS_TOOLS: Tool[] = [
  {
    name: 'list_standards',
    title: 'List team standards',
    description: 'List the team standards by category: id, title and tags of every document. Use get_standard to read one.',
    inputSchema: {
      type: 'object',
      properties: { category: { type: 'string', description: 'Only this category (e.g. "typescript").' } },
      additionalProperties: false,
    },
    outputSchema: {
      type: 'object',
      properties: {
        categories: {
          type: 'array',
          items: {
            type: 'object',
            properties: { name: { type: 'string' }, documents: { type: 'array', items: docSummarySchema } },
            required: ['name', 'documents'],
          },
        },
      },
      required: ['categories'],
    },
    annotations: { title: 'List team standards', ...readOnly },
  },
  {
    name: 'get_standard',
    title: 'Read a team standard',
    description: 'Full text of one standard (by id, e.g. "typescript/style") or of every standard in a category.',
    inputSchema: {
      type: 'object',
      properties: {
        id: { type: 'string', description: 'Standard id as listed by list_standards, or its standards:// URI.' },
        category: { type: 'string', description: 'A category: returns all its standards.' },
      },
      additionalProperties: false,
    },
    annotations: { title: 'Read a team standard', ...readOnly },
  },
  {
    name: 'search_standards',
    title: 'Search team standards',
    description:
      'Full-text search of the team standards (titles count more than body text). Returns ranked results with a snippet (matched words marked «like this»). ' +
      'Pass `path` (the file under review) to leave out standards meant for other kinds of files.',
    inputSchema: {
      type: 'object',
      properties: {
        query: { type: 'string', minLength: 1, maxLength: MAX_QUERY_CHARS, description: 'A few keywords, e.g. "error handling async".' },
        category: { type: 'string', description: 'Only this category.' },
        tags: { type: 'array', items: { type: 'string' }, description: 'Only standards with at least one of these tags.' },
        path: { type: 'string', description: 'Path of the file under review; standards whose applies_to excludes it are left out.' },
        limit: { type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: DEFAULT_LIMIT },
      },
      required: ['query'],
      additionalProperties: false,
    },
    outputSchema: {
      type: 'object',
      properties: {
        query: { type: 'string' },
        results: {
          type: 'array',
          items: {
            type: 'object',
            properties: { ...docSummarySchema.properties, score: { type: 'number' }, snippet: { type: 'string' } },
            required: [...docSummarySchema.required, 'score', 'snippet'],
          },
        },
      },
      required: ['query', 'results'],
    },
    annotations: { title: 'Search team standards', ...readOnly },
  },
  {
    name: 'standards_for_file',
    title: 'Standards for a file',
    description: 'The standards whose applies_to globs match a file path (e.g. "src/api/users.ts"): what to check when writing or reviewing it.',
    inputSchema: {
      type: 'object',
      properties: { path: { type: 'string', minLength: 1, description: 'File path, relative to the repository root or absolute.' } },
      required: ['path'],
      additionalProperties: false,
    },
    outputSchema: {
      type: 'object',
      properties: {
        path: { type: 'string' },
        standards: {
          type: 'array',
          items: {
            type: 'object',
            properties: { ...docSummarySchema.properties, matched: { type: 'string', description: 'The applies_to glob that matched.' } },
            required: [...docSummarySchema.required, 'matched'],
          },
        },
      },
      required: ['path', 'standards'],
    },
    annotations: { title: 'Standards for a file', ...readOnly },
  },
];

/** Bad arguments: becomes an `isError` result, not a protocol error. */
class ToolInputError extends Error {}

export function callStandardsTool(catalog: StandardsCatalog, name: string, args: Record<string, unknown> = {}): CallToolResult {
  try {
    switch (name) {
      case 'list_standards':
        return listStandards(catalog, optString(args, 'category'));
      case 'get_standard':
        return getStandard(catalog, optString(args, 'id'), optString(args, 'category'));
      case 'search_standards':
        return searchStandards(catalog, args);
      case 'standards_for_file':
        return standardsForFile(catalog, reqString(args, 'path'));
      default:
        return toolError(`Unknown tool "${name}". The tools are: ${STANDARDS_TOOLS.map((t) => t.name).join(', ')}.`);
    }
  } catch (e) {
    if (e instanceof ToolInputError) return toolError(e.message);
    throw e;
  }
}

function listStandards(catalog: StandardsCatalog, category?: string): CallToolResult {
  const all = catalog.categories();
  if (category !== undefined && !all.has(category)) return unknownCategory(catalog, category);
  const categories = [...all]
    .filter(([name]) => category === undefined || name === category)
    .map(([name, docs]) => ({ name, documents: docs.map(summary) }));
  const lines = categories.flatMap((c) => [
    `## ${c.name}`,
    ...c.documents.map((d) => `- \`${d.id}\` ${d.title}${d.tags.length ? ` (${d.tags.join(', ')})` : ''}`),
    '',
  ]);
  const text = categories.length === 0 ? 'No standards are loaded: the standards folders hold no Markdown or YAML files.' : lines.join('\n').trim();
  return { content: [{ type: 'text', text }], structuredContent: { categories } };
}

function getStandard(catalog: StandardsCatalog, rawId?: string, category?: string): CallToolResult {
  if (rawId === undefined && category === undefined) throw new ToolInputError('Pass `id` (e.g. "typescript/style") or `category`; list_standards shows both.');
  if (rawId !== undefined) {
    const id = rawId.replace(/^standards:\/\//, '');
    const doc = catalog.get(id) ?? catalog.get(decodeURIComponentSafe(id));
    if (!doc) {
      const near = catalog.list().filter((d) => d.id.includes(id) || id.includes(d.id.split('/').pop() ?? '\0')).slice(0, 5);
      return toolError(
        `No standard has the id "${rawId}".` +
          (near.length ? ` Did you mean ${near.map((d) => `"${d.id}"`).join(', ')}?` : '') +
          ' Call list_standards to see every id.',
      );
    }
    return { content: [{ type: 'text', text: renderStandards([doc]) }] };
  }
  const docs = catalog.categories().get(category!);
  if (!docs) return unknownCategory(catalog, category!);
  return { content: [{ type: 'text', text: renderStandards(docs) }] };
}

function searchStandards(catalog: StandardsCatalog, args: Record<string, unknown>): CallToolResult {
  const query = args.query;
  if (typeof query !== 'string') throw new ToolInputError('Pass `query`: a few words describing the standard you are looking for.');
  const sanitized = sanitizeQuery(query);
  if (!sanitized.ok) return toolError(sanitized.reason);
  const category = optString(args, 'category');
  const tags = optStringList(args, 'tags').map((t) => t.toLowerCase());
  const path = optString(args, 'path');
  const limit = optLimit(args);
  const forPath = path === undefined ? undefined : appliesToPath(path);

  const hits = catalog.index.search({
    match: sanitized.match,
    terms: sanitized.terms,
    limit,
    filter: (doc) =>
      (category === undefined || doc.category === category) &&
      (tags.length === 0 || doc.tags.some((t) => tags.includes(t))) &&
      (forPath === undefined || forPath(doc)),
  });
  const results = hits.map((h) => ({ ...summary(h.doc), score: h.score, snippet: h.snippet }));
  const text =
    results.length === 0
      ? `No standard matches "${query.trim()}"${category ? ` in category ${category}` : ''}. Try other words, or list_standards.`
      : results.map((r, i) => `${i + 1}. \`${r.id}\` ${r.title} (score ${r.score})\n   ${r.snippet.replace(/\s+/g, ' ')}`).join('\n');
  return { content: [{ type: 'text', text }], structuredContent: { query: query.trim(), results } };
}

function standardsForFile(catalog: StandardsCatalog, path: string): CallToolResult {
  const match = pathMatcher(path);
  const standards = catalog.list().flatMap((doc) => {
    const matched = match(doc);
    return matched === undefined ? [] : [{ ...summary(doc), matched }];
  });
  const text =
    standards.length === 0
      ? `No standard's applies_to matches ${path}. search_standards can still find general guidance.`
      : standards.map((s) => `- \`${s.id}\` ${s.title}${s.severity ? ` [${s.severity}]` : ''} (matches ${s.matched})`).join('\n');
  return { content: [{ type: 'text', text }], structuredContent: { path, standards } };
}

type Summary = { id: string; uri: string; title: string; category: string; tags: string[]; severity?: string };
/** Documents are immutable (a change makes a new object), so their summary can be kept. */
const summaries = new WeakMap<StandardDoc, Summary>();

function summary(doc: StandardDoc): Summary {
  let s = summaries.get(doc);
  if (!s) {
    s = { id: doc.id, uri: standardUri(doc.id), title: doc.title, category: doc.category, tags: doc.tags, ...(doc.severity ? { severity: doc.severity } : {}) };
    summaries.set(doc, s);
  }
  return s;
}

function unknownCategory(catalog: StandardsCatalog, category: string): CallToolResult {
  return toolError(`No category "${category}". The categories are: ${[...catalog.categories().keys()].join(', ') || '(none)'}.`);
}

export function toolError(text: string): CallToolResult {
  return { content: [{ type: 'text', text }], isError: true };
}

function optString(args: Record<string, unknown>, name: string): string | undefined {
  const v = args[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new ToolInputError(`\`${name}\` must be a string, got ${JSON.stringify(v)}.`);
  return v.trim() || undefined;
}

function reqString(args: Record<string, unknown>, name: string): string {
  const v = optString(args, name);
  if (v === undefined) throw new ToolInputError(`Pass \`${name}\`: it is required.`);
  return v;
}

function optStringList(args: Record<string, unknown>, name: string): string[] {
  const v = args[name];
  if (v === undefined || v === null) return [];
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new ToolInputError(`\`${name}\` must be a list of strings.`);
  return v as string[];
}

function optLimit(args: Record<string, unknown>): number {
  const v = args.limit;
  if (v === undefined || v === null) return DEFAULT_LIMIT;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > MAX_LIMIT) {
    throw new ToolInputError(`\`limit\` must be a whole number from 1 to ${MAX_LIMIT}, got ${JSON.stringify(v)}.`);
  }
  return v;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return s.split('/').map(decodeURIComponent).join('/');
  } catch {
    return s;
  }
}
