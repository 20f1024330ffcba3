import type { Child } from '../children/child.js';
import type { ConfigDiff } from '../config/diff.js';
import type { Config, ServerConfig } from '../config/types.js';

/**
 * Applies a config diff to the running children:
 * - removed: out of the lists at once, then stopped for good (process group gone);
 * - restart: new settings, then disconnect and connect again (calls arriving meanwhile wait for it);
 * - update: new settings in place, same process and connection;
 * - added: a new child, started as at mcpx's start (eager, or lazy with no known tools).
 * A change of `disabled`, or of a missing variable, replaces the child (its state was decided when it was made).
 * Everything happens inside one batch, so the client gets one list_changed, sent once the children
 * starting now are up (or after ANNOUNCE_WITHIN_MS: a slow one then announces itself when it is up).
 */
export interface LiveChildren {
  readonly children: readonly Child[];
  /** A new child for the entry, wired (policies, supervision, catalog store), not started. */
  add(config: ServerConfig): Child;
  /** Out of the lists now; resolves once it is stopped for good. */
  remove(child: Child): Promise<void>;
  /** New settings in place (policies rebuilt when theirs changed). */
  update(child: Child, config: ServerConfig): void;
  /** Disconnect and connect again, with a fresh restart budget. */
  restart(child: Child): Promise<void>;
  order(names: readonly string[]): void;
  batch<T>(fn: () => Promise<T>): Promise<T>;
}

export interface ApplySummary {
  added: string[];
  removed: string[];
  restarted: string[];
  updated: string[];
  unchanged: string[];
  /** Top-level settings that apply at the next start of mcpx. */
  needsRestart: string[];
}

export const ANNOUNCE_WITHIN_MS = 1000;

export async function applyDiff(live: LiveChildren, diff: ConfigDiff, next: Pick<Config, 'servers'>): Promise<ApplySummary> {
  const find = (name: string) => live.children.find((c) => c.name === name);
  const entry = new Map(next.servers.map((s) => [s.name, s]));
  const summary: ApplySummary = { added: [], removed: [], restarted: [], updated: [], unchanged: diff.unchanged, needsRestart: diff.global };
  const stopping: Promise<void>[] = [];
  const remove = (child: Child) => stopping.push(live.remove(child));
  const add = (server: ServerConfig) => {
    const child = live.add(server);
    return server.start === 'eager' || !child.catalog ? child.start() : Promise.resolve();
  };

  await live.batch(async () => {
    const starting: Promise<void>[] = [];
    for (const name of diff.removed) {
      const child = find(name);
      if (child) remove(child);
      summary.removed.push(name);
    }
    for (const { name } of [...diff.restart, ...diff.update]) {
      const child = find(name)!;
      const server = entry.get(name)!;
      const restart = diff.restart.some((c) => c.name === name);
      if (replaces(child.config, server)) {
        remove(child);
        starting.push(add(server));
        (restart ? summary.restarted : summary.updated).push(name);
        continue;
      }
      live.update(child, server);
      // A lazy child not started yet simply starts with the new settings on its first call.
      if (restart && child.state.kind !== 'idle') {
        starting.push(live.restart(child));
        summary.restarted.push(name);
      } else summary.updated.push(name);
    }
    for (const server of diff.added) {
      starting.push(add(server));
      summary.added.push(server.name);
    }
    live.order(next.servers.map((s) => s.name));
    await Promise.race([Promise.all(starting), new Promise((r) => setTimeout(r, ANNOUNCE_WITHIN_MS).unref())]);
  });
  await Promise.all(stopping);
  return summary;
}

/** The child's state (disabled, misconfigured) was decided when it was made: a change needs a new one. */
function replaces(before: ServerConfig, after: ServerConfig): boolean {
  return before.disabled !== after.disabled || before.problem?.message !== after.problem?.message;
}
