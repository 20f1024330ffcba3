import { join } from 'node:path';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { loadConfig } from '../config/index.js';
import { errorMessage } from '../errors.js';
import { log } from '../util/log.js';
import type { Runtime } from './runtime.js';
import { bridgeTo, createUpstreamServer, installHandlers, STATUS_TOOL, type Backend } from './upstream.js';

/**
 * `mcpx serve`: the stdio MCP server Claude Code starts. Answers initialize at once; starts the
 * children when the upstream client has said what it supports; stops them all (process groups
 * included) when stdin closes or on SIGINT/SIGTERM. Nothing but JSON-RPC goes to stdout.
 */
export interface ServeOptions {
  configFlag?: string;
  /** Apply edits of the config file (and its .env files) as they are saved; false: on `mcpx reload` only. */
  watch?: boolean;
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
}

export async function serve(opts: ServeOptions = {}): Promise<void> {
  const { config, warnings } = loadConfig(opts.configFlag); // a config error exits 2 before anything starts
  log.toFile(join(config.stateDir, 'mcpx.log'));
  for (const w of warnings) log.warn(w);
  log.info(`serve: ${config.servers.length} server(s) from ${config.file}`);

  const server = createUpstreamServer();
  // The children, cache and pipeline load after the transport is connected: initialize never waits for them.
  let runtime: Runtime | undefined;
  const stops: (() => void)[] = [];
  let initialized!: () => void;
  const ready = new Promise<void>((r) => (initialized = r));
  const backend: Promise<Backend> = (async () => {
    await new Promise((r) => setImmediate(r)); // let server.connect() below go first
    const [{ createRuntime }, { publishStatus }, { operate }] = await Promise.all([
      import('./runtime.js'),
      import('../telemetry/status.js'),
      import('../runtime/operate.js'),
    ]);
    const rt = (runtime = createRuntime(config, bridgeTo(server), [STATUS_TOOL]));
    // Live config: edits of mcpx.json and .env apply while serving (rotated tokens too); ps/reload/restart reach us.
    stops.push(publishStatus(rt.status, rt.db), operate(rt, { load: () => loadConfig(opts.configFlag), ready, watch: opts.watch !== false }));
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

  let stopping: Promise<void> | undefined;
  let stopped!: () => void;
  const done = new Promise<void>((r) => (stopped = r));
  const shutdown = (why: string) =>
    (stopping ??= (async () => {
      log.info(`serve: stopping (${why})`);
      const hardStop = setTimeout(() => process.exit(0), 2800); // mcpx exits within 3 s whatever a child does
      hardStop.unref();
      await backend.catch(() => undefined);
      for (const stop of stops) stop();
      await runtime?.stop();
      await server.close().catch(() => undefined);
      await log.close();
      stopped();
    })());
  stdin.on('end', () => void shutdown('stdin closed'));
  stdin.on('close', () => void shutdown('stdin closed'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));

  await server.connect(transport);
  await done;
}
