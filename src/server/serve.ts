import { join } from 'node:path';
import { serveStdio, StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { loadConfig, type Selection } from '../config/index.js';
import { McpxError, errorMessage } from '../errors.js';
import { log } from '../util/log.js';
import { batchedWriter } from '../util/batch.js';
import { CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY, type ClientCapabilities, type JSONRPCMessage } from '@modelcontextprotocol/server';
import { initialInstructions } from './instructions.js';
import type { Runtime } from '../runtime/runtime.js';
import { UpstreamEdge } from './bridge.js';
import { Listens, tapTransport } from './listen.js';
import { STATUS_TOOL, Upstream, type Backend } from './upstream.js';
import { FastPath } from './fastpath.js';
import type { Early } from './early.js';

/**
 * `mcpx serve`: the stdio MCP server Claude Code starts, in both protocol eras (serveStdio picks the
 * era per connection). Answers initialize and server/discover at once; starts the children when the
 * upstream client has said what it supports; stops them all (process groups
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
  /** Issue 13: initialize answered while serve was loading (early.ts); its config, instructions and stdin. */
  early?: Early;
}

export async function serve(opts: ServeOptions = {}): Promise<void> {
  const { config, warnings } = opts.early?.loaded ?? loadConfig(opts.configFlag, { select: opts.select }); // a config error exits 2 before anything starts
  log.toFile(join(config.stateDir, 'mcpx.log'));
  for (const w of warnings) log.warn(w);
  const waiting = config.waitingForTrust;
  if (waiting?.file === config.file) log.info('serve: no servers until the project config is trusted; restart mcpx after `mcpx trust` (Claude Code: /mcp, reconnect)');
  else log.info(`serve: ${config.servers.length} server(s) from ${config.file}`);

  // Claude Code reads instructions only from the initialize answer: read the stored ones first (one
  // read-only query, a few ms; no child is waited for). A 2026 client reads them from server/discover.
  const instructions = opts.early?.instructions ?? (await initialInstructions(config));
  const edge = new UpstreamEdge();
  // The children, cache and pipeline load after the transport is connected: initialize and discover never wait for them.
  let runtime: Runtime | undefined;
  const stops: (() => void)[] = [];
  let initialized!: () => void;
  const ready = new Promise<void>((r) => (initialized = r));
  // Loaded at the first request that is not server/discover (initialize included, so it is ready for the
  // first list): a host's throwaway probe copy (discover, then EOF) loads nothing and stops at once.
  let load!: () => void;
  let loading = false;
  const wanted = new Promise<void>((r) => (load = () => ((loading = true), r())));
  const backend: Promise<Backend> = (async () => {
    await wanted;
    await new Promise((r) => setImmediate(r)); // answer the request that asked first
    const [{ createRuntime }, { publishStatus }, { operate }] = await Promise.all([
      import('../runtime/runtime.js'),
      import('../telemetry/status.js'),
      import('../runtime/operate.js'),
    ]);
    const rt = (runtime = createRuntime(config, edge, [STATUS_TOOL]));
    // Live config: edits of mcpx.json and .env apply while serving (rotated tokens too); ps/reload/restart reach us.
    stops.push(publishStatus(rt.status, rt.db), operate(rt, { load: () => loadConfig(opts.configFlag, { select: opts.select }), ready, watch: opts.watch !== false }));
    return { hub: rt.hub, pipeline: rt.pipeline, settled: rt.settled, status: () => rt.status.snapshot() };
  })();
  // Children learn the client's capabilities from us, so they start once the client is known to be
  // real: a 2025 client once initialized, a 2026 client at its first request that is not discover. A
  // host's throwaway probe copy of mcpx (discover, then EOF) starts none.
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    initialized();
    load();
    void backend.then(() => runtime!.start());
  };
  const stdin = opts.early?.handOver() ?? opts.stdin ?? process.stdin;
  const listens = new Listens();
  const upstream = new Upstream(instructions, backend, edge, listens, start);
  const seen = {
    inbound(m: JSONRPCMessage) {
      listens.inbound(m);
      if (!('method' in m) || !('id' in m)) return;
      if (m.method !== 'server/discover') load();
      const env = (m.params?._meta as Record<string, unknown> | undefined) ?? {};
      if (env[PROTOCOL_VERSION_META_KEY] === undefined) return; // a 2025 request: initialized starts the children
      const caps = env[CLIENT_CAPABILITIES_META_KEY];
      if (caps && typeof caps === 'object') edge.envelopeCapabilities = caps as ClientCapabilities;
      if (m.method !== 'server/discover') start();
    },
    outbound: (m: JSONRPCMessage) => listens.outbound(m),
    // Issue 13: a 2025 client's plain calls and warm lists are answered by the fast path (fastpath.ts), past the SDK Server.
    take: (m: JSONRPCMessage, deliver: () => void) => fast.take(m, deliver),
    drop: (m: JSONRPCMessage) => opts.early?.drop(m) ?? false, // the SDK's answer to an initialize answered early
  };
  const stdout = opts.stdout ?? process.stdout;
  const fast = new FastPath({ edge, backend, write: batchedWriter(stdout as never) });

  // A rejected promise nobody awaited is a bug in mcpx or a library, not a reason to drop every
  // child and the client's session: log it (the stack with --debug, and in the log file) and serve on.
  const onRejection = (e: unknown) => {
    log.error(`serve: an operation failed and nobody was waiting for it (serving on): ${errorMessage(e)}`);
    if (e instanceof Error && e.stack) log.debug(e.stack);
  };
  process.on('unhandledRejection', onRejection);

  const outcome = stopper(async () => {
    if (loading) await backend.catch(() => undefined);
    for (const stop of stops) stop();
    const killed = (await runtime?.stop()) ?? [];
    edge.close();
    listens.closeAll();
    await connection?.close().catch(() => undefined);
    return killed;
  }, () => runtime?.hub.kill());
  stdin.on('end', () => outcome.stop('stdin closed'));
  stdin.on('close', () => outcome.stop('stdin closed'));
  const onSignal = (signal: NodeJS.Signals) => outcome.stop(signal, signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let connection: ReturnType<typeof serveStdio> | undefined;
  try {
    // The upstream reads messages up to the largest a child may send (a larger one would close it).
    const maxBufferSize = Math.max(DEFAULT_MAX_MESSAGE_BYTES, ...config.servers.map((s) => s.maxMessageBytes ?? 0));
    const transport = new StdioServerTransport(stdin as never, stdout as never, { maxBufferSize });
    connection = serveStdio(upstream.factory, { transport: tapTransport(transport, seen), onerror: (e) => log.debug(`upstream: ${errorMessage(e)}`) });
    const failure = await outcome.done;
    await log.close();
    if (failure) throw failure;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('unhandledRejection', onRejection);
  }
}

/** The upstream's message limit when no server sets a larger one (the children's default). */
const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

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
