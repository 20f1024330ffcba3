import { queryIntent } from './intent.js';
import { synonymTable, type Synonyms } from './synonyms.js';
import { namesAFile, stem, tokenize } from './tokens.js';

/**
 * The ranking behind `mcpx__find_tools`: BM25 over each tool's name, title, description, parameter
 * names and descriptions (and, as options, its server's name and instructions), with per-field weights
 * (BM25F: each field's term frequency normalised by that field's length, then weighted and summed),
 * light stemming and developer synonyms; then the share of the query matched, the name's coverage and
 * whether the query reads or changes against each tool's `readOnlyHint` (intent.ts) scale the score.
 * `BASELINE` is plain BM25 over all of it as one bag of words;
 * `SHIPPED` is what bench/tool-search.mjs measured best. No model, no network: built in a few ms.
 */
export type Field = 'name' | 'title' | 'description' | 'params' | 'server' | 'instructions';
const FIELDS: readonly Field[] = ['name', 'title', 'description', 'params', 'server', 'instructions'];

export interface RankOptions {
  /** Per-field weights; a field absent (or 0) is not indexed. `bag`: all indexed fields as one (plain BM25). */
  weights: Partial<Record<Field, number>>;
  bag?: boolean;
  stem?: boolean;
  /** Weight of a synonym relative to the query's own word (0: no synonyms). */
  synonyms?: number;
  k1?: number;
  b?: number;
  /** Scale each score by the share of the query's own words the tool matched (Lucene's coord). */
  coord?: boolean;
  /** Raise a tool whose name the query covers: score × (1 + nameBoost × share of the name's words the query has). */
  nameBoost?: number;
  /** Lower a tool whose read-only hint contradicts the query's intent (reading or changing): score × (1 - intent). */
  intent?: number;
  /** Take a file's name or path in the query ("src/index.ts") for the word "file", at the synonyms' weight. */
  fileNames?: boolean;
}

export const BASELINE: RankOptions = { weights: { name: 1, title: 1, description: 1, params: 1 }, bag: true };
export const SHIPPED: RankOptions = {
  weights: { name: 1, title: 0.5, description: 0.5, params: 0.3, server: 1 },
  stem: true,
  synonyms: 0.7,
  coord: true,
  nameBoost: 2,
  intent: 0.3,
  fileNames: true,
};

/** A tool's read-only hint as the ranking uses it: the spec's default (false) when it has annotations without one. */
export function readOnlyOf(annotations: { readOnlyHint?: boolean } | undefined): boolean | undefined {
  return annotations ? annotations.readOnlyHint === true : undefined;
}

/** One searchable tool: its exposed name (what is called) and what describes it. */
export interface ToolDoc {
  /** The name a client calls (`<prefix>__<name>`). */
  name: string;
  /** The child's own name for it (the exposed one carries the prefix, which `server` covers). */
  ownName: string;
  title?: string;
  description?: string;
  inputSchema?: unknown;
  server?: string;
  instructions?: string;
  /** `annotations.readOnlyHint` (absent there: false); undefined when the tool has no annotations. */
  readOnly?: boolean;
}

export interface Hit<D extends ToolDoc = ToolDoc> {
  doc: D;
  score: number;
}

interface Indexed {
  /** Per field: term → count. */
  tf: Map<string, number>[];
  len: number[];
  /** The words of the tool's own name. */
  nameWords: string[];
}

export class ToolIndex<D extends ToolDoc = ToolDoc> {
  private readonly fields: { field: Field; weight: number }[];
  private readonly docs: Indexed[] = [];
  private readonly avgLen: number[];
  private readonly df = new Map<string, number>();
  private readonly synonyms?: Synonyms;
  private readonly k1: number;
  private readonly b: number;

  constructor(
    readonly items: readonly D[],
    private readonly opts: RankOptions = SHIPPED,
  ) {
    this.k1 = opts.k1 ?? 1.2;
    this.b = opts.b ?? 0.75;
    this.fields = opts.bag ? [{ field: 'description', weight: 1 }] : FIELDS.filter((f) => (opts.weights[f] ?? 0) > 0).map((f) => ({ field: f, weight: opts.weights[f]! }));
    if (opts.synonyms) this.synonyms = synonymTable(!!opts.stem);
    const sums = this.fields.map(() => 0);
    for (const d of items) {
      const texts = opts.bag ? [FIELDS.filter((f) => (opts.weights[f] ?? 0) > 0).map((f) => fieldText(d, f)).join(' ')] : this.fields.map((f) => fieldText(d, f.field));
      const tf = texts.map((t) => counts(tokenize(t, { stem: opts.stem })));
      const len = tf.map((m) => [...m.values()].reduce((a, n) => a + n, 0));
      len.forEach((l, i) => (sums[i]! += l));
      const seen = new Set<string>();
      for (const m of tf) for (const t of m.keys()) seen.add(t);
      for (const t of seen) this.df.set(t, (this.df.get(t) ?? 0) + 1);
      const nameWords = [...new Set(tokenize(d.ownName, { stem: opts.stem }))];
      this.docs.push({ tf, len, nameWords });
    }
    this.avgLen = sums.map((s) => Math.max(1, s / Math.max(1, items.length)));
  }

  /** The best `limit` tools for a query, best first (ties: catalog order); none score 0. */
  search(query: string, limit = 5): Hit<D>[] {
    const terms = this.queryTerms(query);
    if (!terms.size) return [];
    const ownTerms = [...terms].filter(([, w]) => w >= 1).map(([t]) => t);
    const n = this.items.length;
    const intent = this.opts.intent ? queryIntent(query) : undefined;
    const hits: Hit<D>[] = [];
    this.docs.forEach((d, i) => {
      let score = 0;
      for (const [t, qw] of terms) {
        const df = this.df.get(t);
        if (!df) continue;
        let tf = 0;
        this.fields.forEach((f, j) => {
          const c = d.tf[j]!.get(t);
          if (c) tf += (f.weight * c) / (1 - this.b + (this.b * d.len[j]!) / this.avgLen[j]!);
        });
        if (!tf) continue;
        const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
        score += qw * idf * ((tf * (this.k1 + 1)) / (tf + this.k1));
      }
      if (score > 0 && this.opts.coord && ownTerms.length) {
        const matched = ownTerms.filter((t) => d.tf.some((m) => m.has(t) || this.synonyms?.get(t)?.some((s) => m.has(s)))).length;
        score *= (1 + matched) / (1 + ownTerms.length);
      }
      const boost = this.opts.nameBoost ?? 0;
      if (score > 0 && boost && d.nameWords.length) score *= 1 + (boost * d.nameWords.filter((w) => terms.has(w)).length) / d.nameWords.length;
      const ro = this.items[i]!.readOnly;
      if (score > 0 && intent && ro !== undefined && ro !== (intent === 'read')) score *= 1 - this.opts.intent!;
      if (score > 0) hits.push({ doc: this.items[i]!, score });
    });
    return hits.sort((a, b) => b.score - a.score).slice(0, Math.max(0, limit));
  }

  /** The query's words with their weights: its own at 1 (repeats add up), synonyms at the option's weight. */
  private queryTerms(query: string): Map<string, number> {
    const own = tokenize(query, { stem: this.opts.stem });
    const out = new Map<string, number>();
    for (const t of own) out.set(t, (out.get(t) ?? 0) + 1);
    const w = this.opts.synonyms ?? 0;
    if (this.synonyms && w > 0) {
      for (const t of new Set(own)) {
        for (const s of this.synonyms.get(t) ?? []) if (!out.has(s) || out.get(s)! < w) out.set(s, Math.max(out.get(s) ?? 0, w));
      }
      if (this.opts.fileNames && namesAFile(query)) {
        const file = this.opts.stem ? stem('file') : 'file';
        out.set(file, Math.max(out.get(file) ?? 0, w));
      }
    }
    return out;
  }
}

function counts(tokens: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const t of tokens) m.set(t, (m.get(t) ?? 0) + 1);
  return m;
}

function fieldText(d: ToolDoc, f: Field): string {
  switch (f) {
    case 'name':
      return d.ownName;
    case 'title':
      return d.title ?? '';
    case 'description':
      return d.description ?? '';
    case 'params':
      return paramText(d.inputSchema);
    case 'server':
      return d.server ?? '';
    case 'instructions':
      return d.instructions ?? '';
  }
}

/** Parameter names and descriptions, one level of nested objects included. */
function paramText(schema: unknown, depth = 0): string {
  const props = (schema as { properties?: Record<string, unknown> } | undefined)?.properties;
  if (!props || typeof props !== 'object' || depth > 1) return '';
  const parts: string[] = [];
  for (const [name, p] of Object.entries(props)) {
    parts.push(name);
    const desc = (p as { description?: unknown } | undefined)?.description;
    if (typeof desc === 'string') parts.push(desc);
    parts.push(paramText(p, depth + 1));
  }
  return parts.join(' ');
}
