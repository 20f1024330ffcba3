import Database from 'better-sqlite3';
import { makeSnippet } from './snippet.js';
import type { StandardDoc } from './types.js';

/**
 * The full-text index: an in-memory SQLite FTS5 table ranked with BM25. Kept in step with the
 * documents by sync(), which applies only the difference (added, removed, changed), so a watch reload
 * does not rebuild everything. Filters (category, tags, file path) are applied in JS on the ranked
 * rowids; snippets are made in JS for the rows returned (snippet.ts).
 */
export interface SearchHit {
  doc: StandardDoc;
  /** Higher is better (negated BM25). */
  score: number;
  snippet: string;
}

export interface SearchOptions {
  /** Output of sanitizeQuery(): never raw user text. */
  match: string;
  /** The query's words, for the snippet. */
  terms: readonly string[];
  limit: number;
  /** Keep a document only if this returns true. */
  filter?: (doc: StandardDoc) => boolean;
}

/** Column weights for bm25(): a word in the title counts far more than the same word in the body. */
const WEIGHTS = { title: 10, tags: 5, category: 3, body: 1 };

export class StandardsIndex {
  private readonly db = new Database(':memory:');
  private readonly rowById = new Map<string, { rowid: number; doc: StandardDoc }>();
  private readonly docByRow = new Map<number, StandardDoc>();
  private nextRowid = 1;
  private readonly insert;
  private readonly remove;
  private readonly ranked;
  private readonly rankedTop;

  constructor() {
    this.db.exec(
      `CREATE VIRTUAL TABLE standards USING fts5(title, tags, category, body, tokenize = 'porter unicode61 remove_diacritics 2')`,
    );
    this.insert = this.db.prepare('INSERT INTO standards (rowid, title, tags, category, body) VALUES (?, ?, ?, ?, ?)');
    this.remove = this.db.prepare('DELETE FROM standards WHERE rowid = ?');
    this.ranked = this.db
      .prepare(
        `SELECT rowid, bm25(standards, ${WEIGHTS.title}, ${WEIGHTS.tags}, ${WEIGHTS.category}, ${WEIGHTS.body}) AS rank
         FROM standards WHERE standards MATCH ? ORDER BY rank`,
      )
      .raw();
    // With LIMIT, SQLite keeps a small top-N heap instead of sorting every match.
    this.rankedTop = this.db
      .prepare(
        `SELECT rowid, bm25(standards, ${WEIGHTS.title}, ${WEIGHTS.tags}, ${WEIGHTS.category}, ${WEIGHTS.body}) AS rank
         FROM standards WHERE standards MATCH ? ORDER BY rank LIMIT ?`,
      )
      .raw();
  }

  /** Makes the index hold exactly these documents. */
  sync(docs: readonly StandardDoc[]): void {
    const wanted = new Map(docs.map((d) => [d.id, d]));
    this.db.transaction(() => {
      for (const [id, entry] of this.rowById) {
        const doc = wanted.get(id);
        if (!doc || doc.hash !== entry.doc.hash) this.drop(id, entry.rowid);
        else if (doc !== entry.doc) this.keep(id, entry.rowid, doc); // same content, newer object
      }
      for (const doc of docs) if (!this.rowById.has(doc.id)) this.add(doc);
    })();
  }

  search({ match, terms, limit, filter }: SearchOptions): SearchHit[] {
    // With a filter, fetch a generous top slice first; only if the filter leaves too few, rank them all.
    const slice = filter ? limit * 5 + 20 : limit;
    const top = this.rankedTop.all(match, slice) as [number, number][];
    let hits = this.firstMatching(top, limit, filter);
    if (hits.length < limit && top.length === slice && filter) hits = this.firstMatching(this.ranked.all(match) as [number, number][], limit, filter);
    for (const hit of hits) hit.snippet = makeSnippet(hit.doc.text, terms);
    return hits;
  }

  private firstMatching(rows: [number, number][], limit: number, filter?: (doc: StandardDoc) => boolean): SearchHit[] {
    const hits: SearchHit[] = [];
    for (const [rowid, rank] of rows) {
      const doc = this.docByRow.get(rowid);
      if (!doc || (filter && !filter(doc))) continue;
      hits.push({ doc, score: Math.round(-rank * 1000) / 1000, snippet: '' });
      if (hits.length >= limit) break;
    }
    return hits;
  }

  close(): void {
    this.db.close();
  }

  private add(doc: StandardDoc): void {
    const rowid = this.nextRowid++;
    this.insert.run(rowid, doc.title, doc.tags.join(' '), doc.category, doc.text);
    this.keep(doc.id, rowid, doc);
  }

  private keep(id: string, rowid: number, doc: StandardDoc): void {
    this.rowById.set(id, { rowid, doc });
    this.docByRow.set(rowid, doc);
  }

  private drop(id: string, rowid: number): void {
    this.remove.run(rowid);
    this.rowById.delete(id);
    this.docByRow.delete(rowid);
  }
}
