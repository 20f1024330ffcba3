import { join } from 'node:path';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { loadConfig, type Selection } from '../config/index.js';
import { McpxError, errorMessage } from '../errors.js';
import { log } from '../util/log.js';
import { initialInstructions } from './instructions.js';
import type { Runtime } from '../runtime/runtime.js';
import { bridgeTo, createUpstreamServer, installHandlers, STATUS_TOOL, type Backend } from './upstream.js';

/**
 * `mcpx serve`: the stdio MCP server Claude Code starts. Answers initialize at once; starts the
 * children when the upstream client has said what it supports; stops them all (process groups
 * included) when stdin closes or on SIGINT/SIGTERM. Nothing but JSON-RPC goes to stdout. Resolves
 * after a clean stop; rejects with a FORCED_STOP error (its exit code) after a forced one.
 */
export interface ServeOptions {
  configFlag?: string;
  /** `--tags` / `--only`: serve only these servers of the config. */
  select?: Selection;
  /** Apply edits of the config file (and its .env files) as they are saved; false: on `mcpx reload` only. */
  watch?: boolean;
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
}

export async function serve(opts: ServeOptions = {}): Promise<void> {
  const { config, warnings } = loadConfig(opts.configFlag, { select: opts.select }); // a config error exits 2 before anything starts
  log.toFile(join(config.stateDir, 'mcpx.log'));
  for (const w of warnings) log.warn(w);
  const waiting = config.waitingForTrust;
  if (waiting?.file === config.file) log.info('serve: no servers until the project config is trusted; restart mcpx after `mcpx trust` (Claude Code: /mcp, reconnect)');
  else log.info(`serve: ${config.servers.length} server(s) from ${config.file}`);

  // Claude Code reads instructions only from the initialize answer: read the stored ones first (one
  // read-only query, a few ms; no child is waited for).
  const server = createUpstreamServer(await initialInstructions(config));
  // The children, cache and pipeline load after the transport is connected: initialize never waits for them.
  let runtime: Runtime | undefined;
  const stops: (() => void)[] = [];
  let initialized!: () => void;
  const ready = new Promise<void>((r) => (initialized = r));
  const backend: Promise<Backend> = (async () => {
    await new Promise((r) => setImmediate(r)); // let server.connect() below go first
    const [{ createRuntime }, { publishStatus }, { operate }] = await Promise.all([
      import('../runtime/runtime.js'),
      import('../telemetry/status.js'),
      import('../runtime/operate.js'),
    ]);
    const rt = (runtime = createRuntime(config, bridgeTo(server), [STATUS_TOOL]));
    // Live config: edits of mcpx.json and .env apply while serving (rotated tokens too); ps/reload/restart reach us.
    stops.push(publishStatus(rt.status, rt.db), operate(rt, { load: () => loadConfig(opts.configFlag, { select: opts.select }), ready, watch: opts.watch !== false }));
    return { hub: rt.hub, pipeline: rt.pipeline, settled: rt.settled, status: () => rt.status.snapshot() };
  })();
  installHandlers(server, backend);
  // Children learn the client's capabilities from us, so they start once the client has initialized.
  server.oninitialized = () => {
    initialized();
    void backend.then(() => runtime!.start());
  };

  const stdin = opts.stdin ?? process.stdin;
  const transport = new StdioServerTransport(stdin as never, (opts.stdout ?? process.stdout) as never);
  server.onerror = (e) => log.debug(`upstream: ${errorMessage(e)}`);

  // A rejected promise nobody awaited is a bug in mcpx or a library, not a reason to drop every
  // child and the client's session: log it (the stack with --debug, and in the log file) and serve on.
  const onRejection = (e: unknown) => {
    log.error(`serve: an operation failed and nobody was waiting for it (serving on): ${errorMessage(e)}`);
    if (e instanceof Error && e.stack) log.debug(e.stack);
  };
  process.on('unhandledRejection', onRejection);

  const outcome = stopper(async () => {
    await backend.catch(() => undefined);
    for (const stop of stops) stop();
    const killed = (await runtime?.stop()) ?? [];
    await server.close().catch(() => undefined);
    return killed;
  }, () => runtime?.hub.kill());
  stdin.on('end', () => outcome.stop('stdin closed'));
  stdin.on('close', () => outcome.stop('stdin closed'));
  const onSignal = (signal: NodeJS.Signals) => outcome.stop(signal, signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    await server.connect(transport);
    const failure = await outcome.done;
    await log.close();
    if (failure) throw failure;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('unhandledRejection', onRejection);
  }
}

/** How long a stop may take before the children are killed outright (children get ~1.8 s to stop). */
const STOP_BUDGET_MS = 2400;

/**
 * The stop of serve: the first reason (stdin closed, SIGINT, SIGTERM) starts `stop`; it is forced
 * (`kill`, then done at once) when a second signal arrives or the stop outlasts STOP_BUDGET_MS.
 * `done` resolves with nothing after a clean stop, or with the error that makes the exit code say
 * the stop was not clean: 130 / 143 after a second SIGINT / SIGTERM (128 + the signal, as a shell
 * reports a process killed by it), 1 when the budget ran out or a child had to be killed (SIGKILL).
 */
export function stopper(stop: () => Promise<string[]>, kill: () => void, budgetMs = STOP_BUDGET_MS) {
  let finish!: (failure?: McpxError) => void;
  const done = new Promise<McpxError | undefined>((r) => (finish = r));
  let started = false;
  const force = (why: string, exitCode: number) => {
    log.warn(`serve: ${why}; killing every child's process group now`);
    kill();
    finish(new McpxError(`stopped by force: ${why}`, { code: 'FORCED_STOP', exitCode }));
  };
  return {
    done,
    stop(why: string, signal?: NodeJS.Signals): void {
      if (started) {
        if (signal) force(`a second ${signal} arrived before the stop had finished`, signal === 'SIGINT' ? 130 : 143);
        return;
      }
      started = true;
      log.info(`serve: stopping (${why})`);
      const budget = setTimeout(() => force(`the stop took longer than ${budgetMs} ms`, 1), budgetMs);
      budget.unref();
      void stop()
        .then((killed) => {
          if (!killed.length) return finish();
          const who = `${killed.join(', ')} had to be killed (SIGKILL): ${killed.length > 1 ? 'they' : 'it'} did not stop on stdin closing or SIGTERM`;
          finish(new McpxError(`stopped, but ${who}`, { code: 'FORCED_STOP', server: killed[0] }));
        }, (e: unknown) => finish(new McpxError(`the stop failed: ${errorMessage(e)}`, { code: 'FORCED_STOP', cause: e })))
        .finally(() => clearTimeout(budget));
    },
  };
}
