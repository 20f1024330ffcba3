import type { LoadedConfig } from '../config/index.js';
import { diffConfigs, isEmptyDiff } from '../config/diff.js';
import { untrustedEdit } from '../config/trust.js';
import type { Config } from '../config/types.js';
import { McpxError, errorMessage, isMcpxError } from '../errors.js';
import { log } from '../util/log.js';
import { applyDiff, type ApplySummary, type LiveChildren } from './apply.js';

/**
 * The live config of one serve process. reload() re-reads and validates the file; a valid edit is
 * diffed against what runs and applied (apply.ts); an invalid one (bad JSON, a wrong field, a variable
 * that is now missing, a half-written file) leaves everything running as it is and is reported on
 * stderr, in mcpx.log and in the status snapshot until a valid edit arrives. Reloads run one at a time;
 * the ones asked for meanwhile share the next.
 */
export interface ConfigProblem {
  message: string;
  file?: string;
  server?: string;
  field?: string;
  suggestion?: string;
  at: string;
}

export type ReloadResult = { ok: true; summary?: ApplySummary } | { ok: false; error: ConfigProblem };

export interface LiveConfigOptions {
  /** Loads the config as serve did at start (same flag, same search, same checks). */
  load: () => LoadedConfig;
  /** Resolves when the children may start (the client has initialized). */
  ready: Promise<unknown>;
}

export class LiveConfig {
  current: Config;
  error?: ConfigProblem;
  loadedAt = new Date().toISOString();
  private running?: Promise<ReloadResult>;
  private queued?: Promise<ReloadResult>;

  constructor(
    config: Config,
    private readonly children: LiveChildren,
    private readonly opts: LiveConfigOptions,
  ) {
    this.current = config;
  }

  reload(why: string): Promise<ReloadResult> {
    if (this.queued) return this.queued;
    const before = this.running ?? Promise.resolve();
    const next: Promise<ReloadResult> = before
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        this.running = next;
        return this.reloadNow(why);
      })
      .finally(() => {
        if (this.running === next) this.running = undefined;
      });
    this.queued = next;
    return next;
  }

  /** For the status snapshot and `mcpx ps`. */
  status(): { file: string; loadedAt: string; error?: ConfigProblem } {
    return { file: this.current.file, loadedAt: this.loadedAt, error: this.error };
  }

  private async reloadNow(why: string): Promise<ReloadResult> {
    await this.opts.ready;
    let loaded: LoadedConfig;
    try {
      loaded = this.opts.load();
      this.check(loaded.config);
    } catch (e) {
      return { ok: false, error: this.refuse(e) };
    }
    const file = this.current.file;
    if (this.error) log.info(`config: ${file} is valid again`);
    this.error = undefined;
    const running = { ...this.current, servers: this.children.children.map((c) => c.config) };
    const diff = diffConfigs(running, loaded.config);
    if (isEmptyDiff(diff)) {
      log.debug(`config: ${file} re-read (${why}); nothing changed`);
      return { ok: true };
    }
    for (const w of loaded.warnings) log.warn(w);
    log.info(`config: ${file} changed (${why}); applying`);
    const summary = await applyDiff(this.children, diff, loaded.config);
    // Storage settings were read when the database opened: they stay until mcpx starts again.
    this.current = { ...loaded.config, cache: this.current.cache, audit: this.current.audit };
    this.loadedAt = new Date().toISOString();
    log.info(`config: applied: ${describe(summary)}`);
    if (summary.needsRestart.length) log.warn(`config: ${summary.needsRestart.join(', ')} changed: takes effect when mcpx starts again`);
    return { ok: true, summary };
  }

  /** What loads but must not replace a working config: an untrusted edit, another file, or a variable missing now. */
  private check(next: Config): void {
    // The project config or its .env edited since `mcpx trust`: what was trusted keeps running, the edit waits.
    const waiting = next.waitingForTrust;
    if (waiting && !this.current.waitingForTrust) throw untrustedEdit(waiting);
    if (next.file !== this.current.file) {
      throw new McpxError(`${this.current.file} is gone (mcpx would now read ${next.file})`, {
        code: 'CONFIG_NOT_FOUND', file: this.current.file, suggestion: 'put the file back, or restart mcpx to use the other one',
      });
    }
    const before = new Map(this.children.children.map((c) => [c.name, c.config.problem?.message]));
    const fresh = next.servers.find((s) => s.problem && !s.disabled && before.get(s.name) !== s.problem.message);
    if (fresh?.problem) throw fresh.problem;
  }

  private refuse(e: unknown): ConfigProblem {
    const err = isMcpxError(e) ? e : new McpxError(errorMessage(e), { code: 'CONFIG_INVALID', file: this.current.file });
    const file = err.file ?? this.current.file;
    const problem: ConfigProblem = {
      message: err.message.includes(file) ? err.message : `${file}: ${err.message}`, file, server: err.server, field: err.field, suggestion: err.suggestion,
      at: new Date().toISOString(),
    };
    // The same broken content seen again (several save events) is said once.
    const again = this.error?.message === problem.message;
    this.error = again ? this.error : problem;
    (again ? log.debug : log.error).call(log, `config: ${problem.message}; still serving the last good config (from ${this.loadedAt})`);
    return this.error!;
  }
}

function describe(s: ApplySummary): string {
  const parts = (['added', 'removed', 'restarted', 'updated'] as const).filter((k) => s[k].length).map((k) => `${k} ${s[k].join(', ')}`);
  return parts.join('; ') || 'no server changed';
}
