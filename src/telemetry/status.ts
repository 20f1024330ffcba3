import type { Child } from '../children/child.js';
import { instructionsOf } from '../children/instructions.js';
import type { Supervisor } from '../children/supervisor.js';
import type { CallEvent, Pipeline } from '../pipeline/call.js';
import type { ChildPolicies } from '../pipeline/policies.js';
import type { FailureReason } from '../pipeline/answers.js';
import type { WaitingForTrust } from '../config/types.js';
import { log } from '../util/log.js';

/**
 * The status snapshot of one serve process: per child its state, breaker, restarts, last error and
 * success, latency and cache counts; and the overall health. Served as the `mcpx__status` tool and the
 * `mcpx://status` resource, and written to the database every few seconds for `mcpx doctor`/`stats`.
 */
export type Health = 'healthy' | 'degraded' | 'critical';

interface Tally {
  calls: number;
  hits: number;
  staleHits: number;
  misses: number;
  /**
   * `at` in ms since the epoch, formatted only when a snapshot is taken. `caller`: whose call it was
   * (its message, the child's words, may name what that caller asked for).
   */
  lastError?: { at: number; reason: string; message?: string; caller?: string };
  /** ms since the epoch; formatted only when a snapshot is taken, not on every call. */
  lastSuccessAt?: number;
  /** The last SAMPLES call times (ms), a ring written in place: no array shifted per call. */
  latencies: Float64Array;
  /** Call times recorded so far (the ring's next slot is this modulo SAMPLES). */
  timed: number;
}
const SAMPLES = 256;
/** Reasons that are mcpx's decisions, not failures of the child (see "Blame only the guilty"). */
const REFUSALS: ReadonlySet<string> = new Set<FailureReason>(['breaker-open', 'queue-full', 'quota']);

export class StatusTracker {
  private readonly tallies = new Map<string, Tally>();
  readonly startedAt = new Date().toISOString();
  /** The live config's state (file, last good load, the error of a refused edit), set by serve. */
  configState?: () => unknown;

  constructor(
    pipeline: Pipeline,
    private readonly children: readonly Child[],
    private readonly policies: Map<Child, ChildPolicies>,
    private readonly supervisor: Supervisor,
    /** pinTools: the tools of a child withheld until `mcpx approve`. */
    private readonly waiting: (child: Child) => { tool: string; change: string }[] = () => [],
    /** A project config found but not used until the user trusts it: shown, and the health is not "healthy". */
    private readonly waitingForTrust?: WaitingForTrust,
  ) {
    pipeline.on('call', (e) => this.onCall(e));
  }

  /** Per server name: a child added by a config reload gets one on first use; a replaced child keeps its own. */
  private tally(server: string): Tally {
    let t = this.tallies.get(server);
    if (!t) this.tallies.set(server, (t = { calls: 0, hits: 0, staleHits: 0, misses: 0, latencies: new Float64Array(SAMPLES), timed: 0 }));
    return t;
  }

  private onCall(e: CallEvent): void {
    const t = this.tally(e.server);
    t.calls++;
    if (e.outcome === 'hit') t.hits++;
    else if (e.outcome === 'stale') t.staleHits++;
    else if (e.cacheable) t.misses++;
    if (e.outcome === 'ok' || e.outcome === 'error') {
      t.lastSuccessAt = Date.now();
      t.latencies[t.timed++ % SAMPLES] = Math.round(e.ms * 100) / 100;
    }
    // mcpx's own refusal does not replace the child's failure: "circuit open" would hide why it opened.
    if (e.reason && !(REFUSALS.has(e.reason) && t.lastError && !REFUSALS.has(t.lastError.reason))) {
      t.lastError = { at: Date.now(), reason: e.reason, message: e.error, caller: e.caller };
    }
  }

  /**
   * `viewer`: the team server's caller who asks (undefined: this host's user: stdio, the database). A
   * last error's message is the failed call's, so it is shown to that call's caller only; another one
   * sees that the server failed, when and why (mcpx's words), not what was asked.
   */
  snapshot(viewer?: string): Record<string, unknown> {
    const servers: Record<string, unknown> = {};
    let counted = 0;
    let bad = 0;
    for (const c of this.children) {
      const t = this.tally(c.name);
      const b = this.policies.get(c)?.breaker;
      const s = c.state;
      const breakerState = b?.state.kind ?? 'closed';
      const state = s.kind === 'ready' && breakerState !== 'closed' ? 'degraded' : s.kind === 'idle' ? 'lazy' : s.kind;
      if (s.kind !== 'disabled') {
        counted++;
        if (state === 'down' || state === 'degraded' || state === 'misconfigured') bad++;
      }
      servers[c.name] = {
        state,
        pid: s.kind === 'ready' ? c.pid : undefined,
        reason: 'reason' in s ? s.reason : undefined,
        // A remote child waiting for the user to sign in again: what to run.
        login: c.loginNeeded && s.kind !== 'ready' ? { needed: true, run: `mcpx login ${c.name}` } : undefined,
        breaker: b && { state: breakerState, opens: b.opens, retryInMs: b.retryInMs() },
        restarts: this.supervisor.restarts(c),
        calls: t.calls,
        // scope: whose its entries are, "public" (shared by everyone) or "credential" (per credential).
        cache: { scope: c.config.cache.scope, hits: t.hits, staleHits: t.staleHits, misses: t.misses },
        latencyMs: latencyOf(t),
        lastError: t.lastError && lastErrorFor(t.lastError, viewer),
        lastSuccessAt: t.lastSuccessAt === undefined ? undefined : new Date(t.lastSuccessAt).toISOString(),
        tools: c.catalog?.tools.length ?? 0,
        prefix: c.config.prefix,
        // Its era: of the live connection, else the stored verdict (`auto`); the version once connected.
        protocol: { setting: c.config.protocol, era: c.knownEra, version: c.protocolVersion },
        // In full: mcpx's initialize answer may have shortened it (2,048 characters in all).
        instructions: instructionsOf(c),
        waitingForApproval: this.waiting(c).map((w) => ({ tool: w.tool, change: w.change, approve: `mcpx approve ${c.name} ${w.tool}` })),
      };
    }
    const health: Health = bad === 0 && !this.waitingForTrust ? 'healthy' : bad * 2 > counted ? 'critical' : 'degraded';
    const waitingForTrust = this.waitingForTrust;
    // Reasons and last errors are mcpx's sentences and the children's messages: no secret value leaves (status resource, database).
    const config = this.configState?.();
    return log.redactDeep({ pid: process.pid, startedAt: this.startedAt, updatedAt: new Date().toISOString(), health, waitingForTrust, config, servers });
  }
}

function lastErrorFor(e: NonNullable<Tally['lastError']>, viewer: string | undefined): Record<string, unknown> {
  const mine = viewer === undefined || e.caller === viewer;
  return { at: new Date(e.at).toISOString(), reason: e.reason, message: mine ? e.message : undefined };
}

/** p50 and p95 of the ring's samples (sorted once, when a snapshot is taken). */
function latencyOf(t: Tally): { p50?: number; p95?: number } {
  const xs = Array.from(t.latencies.subarray(0, Math.min(t.timed, SAMPLES)));
  return { p50: percentile(xs, 0.5), p95: percentile(xs, 0.95) };
}

function percentile(xs: number[], p: number): number | undefined {
  if (!xs.length) return undefined;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Writes this process's snapshot every `everyMs` (and removes it on stop), for doctor and stats. */
export function publishStatus(
  tracker: StatusTracker,
  db: () => { db: import('better-sqlite3').Database; writable: boolean } | undefined,
  everyMs = 5000,
): () => void {
  const write = () => {
    const d = db();
    if (!d?.writable) return;
    try {
      d.db.prepare('INSERT OR REPLACE INTO status (pid, data, updated_at) VALUES (?, ?, ?)').run(process.pid, JSON.stringify(tracker.snapshot()), Date.now());
    } catch {
      /* busy or read-only: the next round tries again */
    }
  };
  const timer = setInterval(write, everyMs);
  timer.unref();
  setTimeout(write, 500).unref();
  return () => {
    clearInterval(timer);
    try {
      const d = db();
      if (d?.writable) d.db.prepare('DELETE FROM status WHERE pid = ?').run(process.pid);
    } catch {
      /* nothing to clean */
    }
  };
}
