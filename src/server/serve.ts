import { join } from 'node:path';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { loadConfig } from '../config/index.js';
import { errorMessage } from '../errors.js';
import { log } from '../util/log.js';
import { watchCredentials } from './rotation.js';
import { createRuntime } from './runtime.js';
import { publishStatus } from '../telemetry/status.js';
import { bridgeTo, createUpstreamServer, installHandlers, STATUS_TOOL } from './upstream.js';

/**
 * `mcpx serve`: the stdio MCP server Claude Code starts. Answers initialize at once; starts the
 * children when the upstream client has said what it supports; stops them all (process groups
 * included) when stdin closes or on SIGINT/SIGTERM. Nothing but JSON-RPC goes to stdout.
 */
export interface ServeOptions {
  configFlag?: string;
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
}

export async function serve(opts: ServeOptions = {}): Promise<void> {
  const { config, warnings } = loadConfig(opts.configFlag); // a config error exits 2 before anything starts
  log.toFile(join(config.stateDir, 'mcpx.log'));
  for (const w of warnings) log.warn(w);
  log.info(`serve: ${config.servers.length} server(s) from ${config.file}`);

  const server = createUpstreamServer();
  const runtime = createRuntime(config, bridgeTo(server), [STATUS_TOOL]);
  const { hub, pipeline } = runtime;
  const stopPublishing = publishStatus(runtime.status, runtime.db);
  const stopWatching = watchCredentials(config, runtime);

  // Lists wait for the children's first start (at most their startup deadline), then answer with what is ready.
  installHandlers(server, hub, pipeline, runtime.settled, () => runtime.status.snapshot());
  // Children learn the client's capabilities from us, so they start once the client has initialized.
  server.oninitialized = () => void runtime.start();

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
      stopPublishing();
      stopWatching();
      await runtime.stop();
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
