import type { LoadedConfig } from '../config/index.js';
import type { Config } from '../config/types.js';
import { errorMessage } from '../errors.js';
import { log } from '../util/log.js';
import type { LiveChildren } from './apply.js';
import { watchConfigFiles } from './config-watch.js';
import { listenControl, type ControlAnswer, type ControlRequest } from './control.js';
import { LiveConfig } from './live.js';

/**
 * Live config for one serve process: the watcher (config file and .env files), the control socket
 * and what it answers (ps, reload, restart), and the config state in the status snapshot.
 */
export interface OperatedRuntime {
  config: Config;
  live: LiveChildren;
  status: { startedAt: string; snapshot(viewer?: string): Record<string, unknown>; configState?: () => unknown };
}

export interface OperateOptions {
  load: () => LoadedConfig;
  /** Resolves when children may start (the client has initialized). */
  ready: Promise<unknown>;
  /** Watch the files (false: edits apply on `mcpx reload` only). */
  watch: boolean;
}

/** Starts watching and listening; returns the function that stops both. */
export function operate(rt: OperatedRuntime, opts: OperateOptions): () => void {
  const live = new LiveConfig(rt.config, rt.live, opts);
  rt.status.configState = () => live.status();
  const reload = async (why: string) => {
    const r = await live.reload(why);
    rt.config = live.current;
    return r;
  };
  const stops = [listenControl(rt.config.stateDir, (req) => answer(req, rt, live, reload, opts.ready))];
  const onChange = () => void reload('the file changed').catch((e: unknown) => log.warn(`config: not applied: ${errorMessage(e)}`));
  if (opts.watch) stops.push(watchConfigFiles(rt.config.file, onChange));
  return () => stops.forEach((stop) => stop());
}

async function answer(
  req: ControlRequest, rt: OperatedRuntime, live: LiveConfig, reload: LiveConfig['reload'], ready: Promise<unknown>,
): Promise<ControlAnswer> {
  if (req.op === 'ps') return { ok: true, instance: describeInstance(rt, live) };
  if (req.op === 'reload') {
    const r = await reload('mcpx reload');
    return r.ok ? { ok: true, summary: r.summary ?? null } : { ok: false, code: 'CONFIG_INVALID', error: r.error.message, problem: r.error };
  }
  await ready;
  const child = rt.live.children.find((c) => c.name === req.server);
  if (!child) {
    return { ok: false, code: 'UNKNOWN_SERVER', error: `no server "${req.server}" in ${live.current.file}`, servers: rt.live.children.map((c) => c.name) };
  }
  if (child.state.kind === 'disabled' || child.state.kind === 'misconfigured') {
    return { ok: false, code: 'NOT_RUNNABLE', error: `${child.name} cannot start: ${child.state.kind === 'disabled' ? 'disabled in the config' : child.state.reason}` };
  }
  log.info(`${child.name}: restarting (mcpx restart)`);
  await rt.live.restart(child);
  const s = child.state;
  const done = { server: child.name, state: s.kind, pid: child.pid, reason: 'reason' in s ? s.reason : undefined };
  return s.kind === 'ready' ? { ok: true, ...done } : { ok: false, code: 'CHILD_START', error: `${child.name} could not start: ${done.reason ?? s.kind}`, ...done };
}

/** What `mcpx ps` shows of this process, taken from the status snapshot. */
function describeInstance(rt: OperatedRuntime, live: LiveConfig): Record<string, unknown> {
  const snap = rt.status.snapshot() as { health?: string; servers?: Record<string, Record<string, unknown>> };
  return {
    pid: process.pid,
    config: live.current.file,
    startedAt: rt.status.startedAt,
    uptimeMs: Math.round(process.uptime() * 1000),
    health: snap.health,
    configError: live.error,
    servers: Object.entries(snap.servers ?? {}).map(([name, s]) => ({ name, state: s.state, pid: s.pid, restarts: s.restarts, reason: s.reason })),
  };
}
