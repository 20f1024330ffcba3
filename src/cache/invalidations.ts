import type { Database, Statement } from 'better-sqlite3';

/**
 * What each invalidation dropped, so that every process drops the same entries from its in-memory L1
 * (and nothing else). Kept in the existing `meta` table, no schema step needed: the `generation` row
 * counts invalidations, and invalidation number N leaves a row named `inv:<N, 12 digits>:<filter JSON>`
 * whose value is when it happened. A process that sees the generation move reads the rows after the
 * one it saw last and applies their filters. When a row is missing (pruned, or written by an older mcpx
 * that only bumps the generation) it cannot know what went, and drops its whole L1, as before.
 */
export interface InvalidateFilter {
  server?: string;
  tool?: string;
  key?: string;
}

export interface Invalidation {
  seq: number;
  filter: InvalidateFilter;
  at: number;
}

const PREFIX = 'inv:';
/** The character after ':' : every record name sorts below `inv;`. */
const END = 'inv;';
/** Records kept; a process further behind than this drops its whole L1. */
export const KEPT_INVALIDATIONS = 500;

const name = (seq: number, filter?: InvalidateFilter): string =>
  `${PREFIX}${String(seq).padStart(12, '0')}${filter ? `:${JSON.stringify(filter)}` : ''}`;

/** True when an entry is one the filter drops (an empty filter drops everything). */
export function matches(f: InvalidateFilter, e: { key: string; server: string; tool: string }): boolean {
  return (f.key === undefined || f.key === e.key) && (f.server === undefined || f.server === e.server) && (f.tool === undefined || f.tool === e.tool);
}

export class InvalidationLog {
  private readonly generation: Statement;
  private readonly bump: Statement;
  private readonly insert: Statement;
  private readonly since: Statement;
  private readonly prune: Statement;

  constructor(db: Database) {
    this.generation = db.prepare("SELECT value FROM meta WHERE name = 'generation'").pluck();
    this.bump = db.prepare("UPDATE meta SET value = value + 1 WHERE name = 'generation' RETURNING value").pluck();
    this.insert = db.prepare('INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)');
    this.since = db.prepare('SELECT name, value FROM meta WHERE name >= ? AND name < ? ORDER BY name');
    this.prune = db.prepare('DELETE FROM meta WHERE name >= ? AND name < ?');
  }

  /** How many invalidations the database has seen. */
  current(): number {
    return (this.generation.get() as number | undefined) ?? 0;
  }

  /** Inside the caller's write transaction: counts one more and records its filter. Returns its number. */
  record(filter: InvalidateFilter, at: number): number {
    const seq = this.bump.get() as number;
    this.insert.run(name(seq, filter), at);
    if (seq > KEPT_INVALIDATIONS) this.prune.run(PREFIX, name(seq - KEPT_INVALIDATIONS + 1));
    return seq;
  }

  /**
   * The invalidations after `seen` up to `now` (the current generation), oldest first; undefined when
   * some are not on record, so that the caller knows to drop everything.
   */
  after(seen: number, now: number): Invalidation[] | undefined {
    if (now < seen) return undefined; // a new database file under the same name
    const rows = this.since.all(name(seen + 1), END) as { name: string; value: number }[];
    const out: Invalidation[] = [];
    for (const r of rows) {
      const seq = Number(r.name.slice(PREFIX.length, PREFIX.length + 12));
      if (seq > now) break;
      try {
        out.push({ seq, filter: JSON.parse(r.name.slice(PREFIX.length + 13)) as InvalidateFilter, at: r.value });
      } catch {
        return undefined;
      }
    }
    return out.length === now - seen && out.every((r, i) => r.seq === seen + 1 + i) ? out : undefined;
  }
}

/**
 * The invalidations this process knows of (its own, and other processes' as it learns of them), with
 * when each happened, so that a put can tell whether one came after the call it stores began: a
 * read-only call sent before a write to the same server may answer from before the write, and that
 * answer must not be kept. Bounded: once a record is forgotten, a put from a call that began before it
 * is refused (it cannot be checked), which costs a miss, never a stale answer.
 */
export class RecentInvalidations {
  private readonly list: { filter: InvalidateFilter; at: number }[] = [];
  /** A put of a call that began at or before this time is refused. */
  private unknownUntil = -Infinity;

  constructor(private readonly kept = KEPT_INVALIDATIONS) {}

  note(filter: InvalidateFilter, at: number): void {
    this.list.push({ filter, at });
    if (this.list.length > this.kept) this.forget(this.list.shift()!.at);
  }

  /** Something was invalidated at `at` without a record of what (a log pruned, a reconnect). */
  forget(at: number): void {
    this.unknownUntil = Math.max(this.unknownUntil, at);
  }

  /** True when an invalidation that drops `e` happened at or after `began` (or may have: not on record). */
  droppedSince(began: number, e: { key: string; server: string; tool: string }): boolean {
    if (began <= this.unknownUntil) return true;
    return this.list.some((r) => r.at >= began && matches(r.filter, e));
  }
}
