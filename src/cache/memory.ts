import { LRUCache } from 'lru-cache';
import { matches, type InvalidateFilter } from './invalidations.js';
import type { CachedEntry } from './store.js';

/**
 * The in-memory layer (L1) of one process in front of a shared store: an LRU bounded in bytes whose
 * entries are dropped by the same filters as the store's. `generation` moves with every drop, so a
 * read from the shared store that started before a drop does not put back what the drop removed.
 */
export class MemoryLayer {
  private readonly lru: LRUCache<string, CachedEntry>;
  generation = 0;

  constructor(maxBytes = 32 * 1024 * 1024) {
    this.lru = new LRUCache<string, CachedEntry>({
      maxSize: maxBytes,
      // Parsed objects take more room than their JSON; a rough factor keeps the budget honest.
      sizeCalculation: (e) => e.bytes * 2 + 256,
    });
  }

  /** A fresh or stale entry (now < staleUntil); one past it is forgotten. */
  get(key: string, now: number): CachedEntry | undefined {
    const e = this.lru.get(key);
    if (e && now >= e.staleUntil) {
      this.lru.delete(key);
      return undefined;
    }
    return e;
  }

  set(e: CachedEntry): void {
    this.lru.set(e.key, e);
  }

  drop(f: InvalidateFilter): void {
    this.generation++;
    if (f.key === undefined && f.server === undefined && f.tool === undefined) return this.lru.clear();
    const gone = [...this.lru.entries()].filter(([, e]) => matches(f, e)).map(([k]) => k);
    for (const k of gone) this.lru.delete(k);
  }

  clear(): void {
    this.drop({});
  }
}
