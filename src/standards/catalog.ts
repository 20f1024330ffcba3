import { StandardsLoader } from './load.js';
import { StandardsIndex } from './search.js';
import type { StandardDoc } from './types.js';

/**
 * The current set of standards: documents by id plus their search index, replaced as a whole on each
 * reload. reload() reports what changed so the server can notify clients; reloads never overlap (a
 * change arriving mid-reload queues one more).
 */
export interface CatalogChange {
  added: StandardDoc[];
  removed: StandardDoc[];
  changed: StandardDoc[];
  warnings: string[];
}

export class StandardsCatalog {
  private byId = new Map<string, StandardDoc>();
  /** Computed once per reload: listing is frequent, changes are rare. */
  private sorted: StandardDoc[] = [];
  private byCategory = new Map<string, StandardDoc[]>();
  private readonly loader: StandardsLoader;
  readonly index = new StandardsIndex();
  private running?: Promise<CatalogChange>;
  private queued?: Promise<CatalogChange>;

  constructor(dirs: readonly string[]) {
    this.loader = new StandardsLoader(dirs);
  }

  reload(): Promise<CatalogChange> {
    if (!this.running) {
      this.running = this.reloadNow().finally(() => (this.running = undefined));
      return this.running;
    }
    // One reload after the current one covers every change seen meanwhile.
    this.queued ??= this.running.catch(() => undefined).then(() => {
      this.queued = undefined;
      return this.reload();
    });
    return this.queued;
  }

  /** All documents, by category then id. */
  list(): readonly StandardDoc[] {
    return this.sorted;
  }

  get(id: string): StandardDoc | undefined {
    return this.byId.get(id);
  }

  /** Category → its documents, categories in name order. */
  categories(): ReadonlyMap<string, readonly StandardDoc[]> {
    return this.byCategory;
  }

  close(): void {
    this.index.close();
  }

  private async reloadNow(): Promise<CatalogChange> {
    const { docs, warnings } = await this.loader.load();
    const next = new Map(docs.map((d) => [d.id, d]));
    const change: CatalogChange = { added: [], removed: [], changed: [], warnings };
    for (const doc of docs) {
      const before = this.byId.get(doc.id);
      if (!before) change.added.push(doc);
      else if (before.hash !== doc.hash) change.changed.push(doc);
    }
    for (const [id, doc] of this.byId) if (!next.has(id)) change.removed.push(doc);
    this.index.sync(docs);
    this.byId = next;
    this.sorted = docs.slice().sort((a, b) => compare(a.category, b.category) || compare(a.id, b.id));
    this.byCategory = new Map();
    for (const doc of this.sorted) {
      const list = this.byCategory.get(doc.category);
      if (list) list.push(doc);
      else this.byCategory.set(doc.category, [doc]);
    }
    return change;
  }
}

/** Plain code-point order: deterministic across locales (localeCompare is not, and is slow). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
