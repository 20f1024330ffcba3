import { log } from '../util/log.js';
import type { Child } from './child.js';

/**
 * Restarts children that exit or fail to start: after 1 s, 2 s, 4 s … 60 s, at most `maxRestarts`
 * times in 10 minutes. After that the child stays down until a call comes in once its breaker's
 * recovery time has passed (poke). Calls never wait for a restart: they take the fallback path.
 */
const WINDOW_MS = 10 * 60_000;
const MAX_BACKOFF_MS = 60_000;

interface Watch {
  attempts: number[]; // start times of restarts within the window
  timer?: NodeJS.Timeout;
  gaveUpAt?: number;
  restarts: number;
  onState: (s: Child['state']) => void;
}

export class Supervisor {
  private readonly watches = new Map<Child, Watch>();
  private stopped = false;

  /** Runs before each restart: a remote child that refused its credentials gets them re-read. */
  beforeRestart?: (child: Child) => Promise<void>;

  constructor(children: readonly Child[], private readonly now: () => number = Date.now) {
    for (const child of children) this.watch(child);
  }

  /** Supervises a child (one added by a config reload); a child watched already is left as it is. */
  watch(child: Child): void {
    if (this.watches.has(child)) return;
    const w: Watch = {
      attempts: [],
      restarts: 0,
      onState: (s) => {
        if (s.kind === 'down' && !this.stopped) this.schedule(child, w);
        if (s.kind === 'ready') w.gaveUpAt = undefined;
      },
    };
    this.watches.set(child, w);
    child.on('state', w.onState);
  }

  /** Stops supervising a child (removed from the config): no restart is scheduled for it any more. */
  forget(child: Child): void {
    const w = this.watches.get(child);
    if (!w) return;
    clearTimeout(w.timer);
    child.off('state', w.onState);
    this.watches.delete(child);
  }

  /** A restart asked for by the user (`mcpx restart`, a changed entry): the restart budget starts afresh. */
  resetBudget(child: Child): void {
    const w = this.watches.get(child);
    if (!w) return;
    clearTimeout(w.timer);
    w.timer = undefined;
    w.attempts = [];
    w.gaveUpAt = undefined;
  }

  restarts(child: Child): number {
    return this.watches.get(child)?.restarts ?? 0;
  }

  /** A call wants this child: if it was given up on and its recovery time has passed, try once more. */
  poke(child: Child): void {
    const w = this.watches.get(child);
    if (!w || child.state.kind !== 'down' || w.timer || this.stopped) return;
    if (w.gaveUpAt !== undefined && this.now() - w.gaveUpAt >= child.config.breaker.recoveryTimeoutMs) {
      w.gaveUpAt = this.now();
      log.info(`${child.name}: trying again after a pause`);
      void child.start();
    }
  }

  private schedule(child: Child, w: Watch): void {
    if (w.timer) return;
    const now = this.now();
    w.attempts = w.attempts.filter((t) => now - t < WINDOW_MS);
    if (w.attempts.length >= child.config.maxRestarts) {
      if (w.gaveUpAt === undefined) {
        log.warn(`${child.name}: restarted ${w.attempts.length} times in 10 min; staying down until a call after ${child.config.breaker.recoveryTimeoutMs} ms`);
      }
      w.gaveUpAt = now;
      return;
    }
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** w.attempts.length);
    w.timer = setTimeout(() => {
      w.timer = undefined;
      if (this.stopped || child.state.kind !== 'down') return;
      w.attempts.push(this.now());
      w.restarts++;
      log.info(`${child.name}: restarting (attempt ${w.attempts.length})`);
      void (this.beforeRestart?.(child) ?? Promise.resolve()).catch(() => undefined).then(() => child.start());
    }, delay);
    w.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watches.values()) clearTimeout(w.timer);
  }
}
