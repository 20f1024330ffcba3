import { realpathSync } from 'node:fs';
import { findConfig } from '../config/index.js';
import { defaultStateDir } from '../config/paths.js';
import { McpxError, checkFailed, errorMessage } from '../errors.js';
import { ask, removeStale, runningInstances, type ControlAnswer, type ControlRequest } from '../runtime/control.js';

/**
 * `mcpx ps`, `mcpx reload` and `mcpx restart`, headless: every running serve process of this user is
 * asked over its control socket (runtime/control.ts); reload and restart go to those serving one config.
 * Each returns a plain object; no instance running is a failed check (exit 1), an unknown server
 * name is a usage error (exit 2), a refused config edit a config error (exit 2).
 */
export interface InstanceInfo {
  pid: number;
  config: string;
  startedAt: string;
  uptimeMs: number;
  health?: string;
  configError?: { message: string; file?: string; field?: string; server?: string };
  servers: { name: string; state: string; pid?: number; restarts?: number; reason?: string }[];
}

export interface PsResult {
  /** Only the instances serving this file, when one was asked for. */
  config?: string;
  instances: InstanceInfo[];
  /** Processes whose socket is there but did not answer. */
  unreachable: { pid: number; error: string }[];
}

export interface InstanceOutcome {
  pid: number;
  ok: boolean;
  error?: string;
  code?: string;
  detail?: Record<string, unknown>;
}

export interface ControlResult {
  config: string;
  server?: string;
  instances: InstanceOutcome[];
  exitCode: 0 | 1 | 2;
}

const PS_TIMEOUT_MS = 3000;
/** A restart waits for the child's start (its startupTimeoutMs, 30 s by default) and the old one's stop. */
const RESTART_TIMEOUT_MS = 120_000;
const RELOAD_TIMEOUT_MS = 60_000;

export async function listInstances(opts: { config?: string; stateDir?: string } = {}): Promise<PsResult> {
  const file = opts.config === undefined ? undefined : findConfig(opts.config).file;
  const found = await askEach(runningInstances(opts.stateDir ?? defaultStateDir()), { op: 'ps' }, PS_TIMEOUT_MS);
  const result: PsResult = { config: file, instances: [], unreachable: [] };
  for (const f of found) {
    const info = f.answer?.instance as InstanceInfo | undefined;
    if (!info) result.unreachable.push({ pid: f.pid, error: f.error ?? f.answer?.error ?? 'no answer' });
    else if (!file || sameFile(info.config, file)) result.instances.push(info);
  }
  return result;
}

/** `mcpx restart NAME`: one child restarted in every serve of the config. */
export async function restartServer(name: string, opts: { config?: string; stateDir?: string } = {}): Promise<ControlResult> {
  const { file, sockets } = await instancesOf(opts);
  const outcomes = await send(sockets, { op: 'restart', server: name }, RESTART_TIMEOUT_MS);
  if (outcomes.every((o) => o.code === 'UNKNOWN_SERVER')) {
    const known = (outcomes[0]?.detail?.servers as string[] | undefined) ?? [];
    throw new McpxError(`unknown server "${name}": the servers of ${file} are ${known.join(', ') || 'none'}`, {
      code: 'USAGE', server: name, file, suggestion: 'run `mcpx ps` to see the servers of each running instance',
    });
  }
  return { config: file, server: name, instances: outcomes, exitCode: outcomes.every((o) => o.ok) ? 0 : 1 };
}

/** `mcpx reload`: every serve of the config applies the file now. */
export async function reloadConfig(opts: { config?: string; stateDir?: string } = {}): Promise<ControlResult> {
  const { file, sockets } = await instancesOf(opts);
  const outcomes = await send(sockets, { op: 'reload' }, RELOAD_TIMEOUT_MS);
  const exitCode = outcomes.some((o) => o.code === 'CONFIG_INVALID') ? 2 : outcomes.every((o) => o.ok) ? 0 : 1;
  return { config: file, instances: outcomes, exitCode };
}

/** The error to exit with when an instance failed (1) or refused the config (2); the outcomes were printed. */
export function controlFailure(r: ControlResult, what: string): McpxError | undefined {
  if (r.exitCode === 0) return undefined;
  const failed = r.instances.filter((i) => !i.ok).map((i) => `pid ${i.pid}`);
  return new McpxError(`${what}: failed in ${failed.join(', ')}`, { code: r.exitCode === 2 ? 'CONFIG_INVALID' : 'CHECK_FAILED', exitCode: r.exitCode, file: r.config });
}

/** The sockets of the running instances serving the config (found as every command finds it). */
async function instancesOf(opts: { config?: string; stateDir?: string }): Promise<{ file: string; sockets: { pid: number; socket: string }[] }> {
  const file = findConfig(opts.config).file;
  const running = runningInstances(opts.stateDir ?? defaultStateDir());
  const ps = await listInstances({ ...opts, config: file });
  const pids = new Set(ps.instances.map((i) => i.pid));
  const sockets = running.filter((r) => pids.has(r.pid));
  if (!sockets.length) {
    throw checkFailed(`no running mcpx serve uses ${file}`, { unreachable: ps.unreachable });
  }
  return { file, sockets };
}

async function send(sockets: { pid: number; socket: string }[], req: ControlRequest, timeoutMs: number): Promise<InstanceOutcome[]> {
  const found = await askEach(sockets, req, timeoutMs);
  return found.map(({ pid, answer, error }) => {
    if (!answer) return { pid, ok: false, error };
    const { ok, error: err, code, ...detail } = answer;
    return { pid, ok, error: err, code, detail };
  });
}

/** Asks each socket in parallel; a socket nobody listens on (its pid now belongs to another process) is removed. */
async function askEach(sockets: { pid: number; socket: string }[], req: ControlRequest, timeoutMs: number) {
  const found = await Promise.all(
    sockets.map(async ({ pid, socket }): Promise<{ pid: number; answer?: ControlAnswer; error?: string } | undefined> => {
      try {
        return { pid, answer: await ask(socket, req, timeoutMs) };
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ECONNREFUSED' || code === 'ENOENT') {
          removeStale(socket);
          return undefined;
        }
        return { pid, error: errorMessage(e) };
      }
    }),
  );
  return found.filter((f) => f !== undefined);
}

function sameFile(a: string, b: string): boolean {
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return p;
    }
  };
  return a === b || real(a) === real(b);
}
