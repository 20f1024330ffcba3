import { join } from 'node:path';
import { loadConfig, type Config, type Selection } from '../config/index.js';
import { errorMessage } from '../errors.js';
import { log } from '../util/log.js';
import type { UpstreamBridge } from '../children/child.js';
import type { Runtime } from '../runtime/runtime.js';
import { STATUS_TOOL, type Backend } from './upstream.js';
import { MORE_TOOL } from './own-tools.js';
import { withToolSearch, type ToolSearchMode } from './tool-search/exposure.js';

/** What both front ends of `mcpx serve` (stdio, HTTP) are given. */
export interface ServeOptions {
  configFlag?: string;
  /** `--tags` / `--only`: serve only these servers of the config. */
  select?: Selection;
  /** Apply edits of the config file (and its .env files) as they are saved; false: on `mcpx reload` only. */
  watch?: boolean;
  /** `--tool-search`: overrides the config's `toolSearch`. */
  toolSearch?: ToolSearchMode;
}


/**
 * Loads the config (a config error exits 2 before anything starts) and opens the log file. `loaded`:
 * the config already read by the early initialize answer (first-answer.ts).
 */
export function serveConfig(opts: ServeOptions, loaded?: ReturnType<typeof loadConfig>): Config {
  const { config, warnings } = loaded ?? loadConfig(opts.configFlag, { select: opts.select });
  withToolSearch(config, opts.toolSearch);
  log.toFile(join(config.stateDir, 'mcpx.log'));
  for (const w of warnings) log.warn(w);
  const waiting = config.waitingForTrust;
  if (waiting?.file === config.file) log.info('serve: no servers until the project config is trusted; restart mcpx after `mcpx trust` (Claude Code: /mcp, reconnect)');
  else log.info(`serve: ${config.servers.length} server(s) from ${config.file}`);
  return config;
}

/**
 * The backend of one serve process, shared by its clients: the children, cache and pipeline (the
 * runtime), loaded lazily so that the front end answers initialize and discover without waiting.
 * - `load()`: build the runtime (no child starts); stdio does it at the first request that is not discover.
 * - `start()`: start the children (loads too); stdio once the client is known to be real, HTTP at once.
 * - `stop()`: the children stopped; resolves with those that had to be killed (for `stopper`).
 */
export function openBackend(config: Config, bridge: UpstreamBridge, opts: ServeOptions) {
  let runtime: Runtime | undefined;
  const stops: (() => void)[] = [];
  let initialized!: () => void;
  const ready = new Promise<void>((r) => (initialized = r));
  let load!: () => void;
  let loading = false;
  let started = false;
  const wanted = new Promise<void>((r) => (load = () => ((loading = true), r())));
  const backend: Promise<Backend> = (async () => {
    await wanted;
    await new Promise((r) => setImmediate(r)); // answer the request that asked first
    const [{ createRuntime }, { publishStatus }, { operate }] = await Promise.all([
      import('../runtime/runtime.js'),
      import('../telemetry/status.js'),
      import('../runtime/operate.js'),
    ]);
    const rt = (runtime = createRuntime(config, bridge, [STATUS_TOOL, MORE_TOOL]));
    // Live config: edits of mcpx.json and .env apply while serving (rotated tokens too); ps/reload/restart reach us.
    stops.push(publishStatus(rt.status, rt.db), operate(rt, { load: () => loadConfig(opts.configFlag, { select: opts.select }), ready, watch: opts.watch !== false }));
    // The stored catalogs, pins and cache are in, and the eager children starting (once the client is
    // initialized), before anything is served from it: a first tools/list answered early (stored-list.ts)
    // waited for none of it, and mcpx://status read right after it shows that state. A failure of the
    // load shows where start() awaits it.
    await rt.load().catch(() => undefined);
    if (started) void rt.start();
    return { hub: rt.hub, pipeline: rt.pipeline, settled: rt.settled, status: (viewer?: string) => rt.status.snapshot(viewer) };
  })();
  return {
    backend,
    load,
    start(): void {
      if (started) return;
      started = true;
      initialized();
      load();
      void backend.then(() => runtime!.start());
    },
    async stop(): Promise<string[]> {
      if (loading) await backend.catch(() => undefined);
      for (const stop of stops) stop();
      return (await runtime?.stop()) ?? [];
    },
    kill: (): void => runtime?.hub.kill(),
  };
}

/**
 * While serving, a rejected promise nobody awaited is a bug in mcpx or a library, not a reason to
 * drop every child and the clients' sessions: log it (the stack with --debug, and in the log file)
 * and serve on. Returns the function that removes the handler.
 */
export function serveOnRejections(): () => void {
  const onRejection = (e: unknown) => {
    log.error(`serve: an operation failed and nobody was waiting for it (serving on): ${errorMessage(e)}`);
    if (e instanceof Error && e.stack) log.debug(e.stack);
  };
  process.on('unhandledRejection', onRejection);
  return () => process.off('unhandledRejection', onRejection);
}
