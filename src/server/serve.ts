import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { McpxError, errorMessage } from '../errors.js';
import { log } from '../util/log.js';
import { CLIENT_CAPABILITIES_META_KEY, PROTOCOL_VERSION_META_KEY, type ClientCapabilities, type JSONRPCMessage } from '@modelcontextprotocol/server';
import { initialInstructions } from './instructions.js';
import { UpstreamEdge } from './bridge.js';
import { openBackend, serveConfig, serveOnRejections, type ServeOptions as BackendOptions } from './backend.js';
import { Listens, tapTransport } from './listen.js';
import { Sessions } from './sessions.js';
import { Upstream } from './upstream.js';
import { Forwarder } from './forward.js';
import { UpstreamStdioTransport } from './stdio-upstream.js';
import type { Early } from './first-answer.js';
import { batchedWriter } from '../util/batch.js';

/**
 * `mcpx serve`: the stdio MCP server Claude Code starts, in both protocol eras (serveStdio picks the
 * era per connection). Answers initialize and server/discover at once; starts the children when the
 * upstream client has said what it supports; stops them all (process groups
 * included) when stdin closes or on SIGINT/SIGTERM. Nothing but JSON-RPC goes to stdout. Resolves
 * after a clean stop; rejects with a FORCED_STOP error (its exit code) after a forced one.
 * The backend (openBackend) and the routing between clients (Sessions) are the HTTP front end's too:
 * stdio is the case of one client.
 */
export interface ServeOptions extends BackendOptions {
  stdin?: NodeJS.ReadableStream;
  stdout?: NodeJS.WritableStream;
  /** The initialize answered while serve was loading (first-answer.ts); its config, instructions and stdin. */
  early?: Early;
}

export async function serve(opts: ServeOptions = {}): Promise<void> {
  const config = serveConfig(opts, opts.early?.loaded);
  // Claude Code reads instructions only from the initialize answer: read the stored ones first (one
  // read-only query, a few ms; no child is waited for). A 2026 client reads them from server/discover.
  const instructions = opts.early?.instructions ?? (await initialInstructions(config));
  const edge = new UpstreamEdge();
  const sessions = new Sessions({ sole: edge });
  // The children, cache and pipeline load after the transport is connected: initialize and discover never
  // wait for them. Loaded at the first request that is not server/discover (initialize included, so it is
  // ready for the first list): a host's throwaway probe copy (discover, then EOF) loads nothing and stops
  // at once. Children learn the client's capabilities from us, so they start once the client is known to
  // be real: a 2025 client once initialized, a 2026 client at its first request that is not discover.
  const back = openBackend(config, sessions, opts);
  const stdin = opts.early?.handOver() ?? opts.stdin ?? process.stdin;
  const listens = new Listens();
  const upstream = new Upstream(instructions, back.backend, sessions, listens, back.start, config.toolSearch);
  const seen = {
    inbound(m: JSONRPCMessage) {
      listens.inbound(m);
      if (!('method' in m) || !('id' in m)) return;
      if (m.method !== 'server/discover') back.load();
      const env = (m.params?._meta as Record<string, unknown> | undefined) ?? {};
      if (env[PROTOCOL_VERSION_META_KEY] === undefined) return; // a 2025 request: initialized starts the children
      const caps = env[CLIENT_CAPABILITIES_META_KEY];
      if (caps && typeof caps === 'object') edge.envelopeCapabilities = caps as ClientCapabilities;
      if (m.method !== 'server/discover') back.start();
    },
    outbound: (m: JSONRPCMessage) => (listens.outbound(m), forwarder.sent(m)),
    // Every forwarded request takes one route (forward.ts), past the SDK Server.
    take: (m: JSONRPCMessage, deliver: () => void) => forwarder.take(m, deliver),
    drop: (m: JSONRPCMessage) => opts.early?.drop(m) ?? false, // the SDK's answer to an initialize or discover answered early
  };
  const stdout = opts.stdout ?? process.stdout;
  const forwarder = new Forwarder({ edge, upstream, write: batchedWriter(stdout as never) });

  const outcome = stopper(async () => {
    const killed = await back.stop();
    edge.close();
    listens.closeAll();
    await connection?.close().catch(() => undefined);
    return killed;
  }, back.kill);
  stdin.on('end', () => outcome.stop('stdin closed'));
  stdin.on('close', () => outcome.stop('stdin closed'));

  let connection: ReturnType<typeof serveStdio> | undefined;
  await untilStopped(outcome, () => {
    // The upstream reads messages up to the largest a child may send (a larger one would close it).
    const maxBufferSize = maxMessageBytes(config);
    const transport = new UpstreamStdioTransport(stdin, stdout, maxBufferSize);
    connection = serveStdio(upstream.factoryFor(edge), { transport: tapTransport(transport, seen), onerror: (e) => log.debug(`upstream: ${errorMessage(e)}`) });
  });
}

/**
 * Serves (`start`) until the stop is done: SIGINT/SIGTERM start it (a second one forces it), a rejection
 * nobody awaited is logged and serving goes on. Resolves after a clean stop; throws the failure of a
 * forced one (its exit code), or what `start` threw.
 */
export async function untilStopped(outcome: ReturnType<typeof stopper>, start: () => void | Promise<void>): Promise<void> {
  const offRejections = serveOnRejections();
  const onSignal = (signal: NodeJS.Signals) => outcome.stop(signal, signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await start();
    const failure = await outcome.done;
    await log.close();
    if (failure) throw failure;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    offRejections();
  }
}

/** The largest message a child may send (the upstream reads messages up to it; a larger one would close it). */
export function maxMessageBytes(config: { servers: { maxMessageBytes?: number }[] }): number {
  return Math.max(DEFAULT_MAX_MESSAGE_BYTES, ...config.servers.map((s) => s.maxMessageBytes ?? 0));
}

/** The upstream's message limit when no server sets a larger one (the children's default). */
const DEFAULT_MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

/** How long a stop may take before the children are killed outright (children get ~1.8 s to stop). */
export const STOP_BUDGET_MS = 2400;

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
