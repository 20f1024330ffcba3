import type { UpstreamBridge } from '../children/child.js';
import type { Config } from '../config/types.js';
import { Pipeline, type Router } from '../pipeline/call.js';
import { Hub } from './hub.js';

/**
 * Children + routing + pipeline for one process: `mcpx serve` builds one behind the upstream server,
 * and `mcpx tools` / `mcpx call` build one with no upstream client. stop() stops every child.
 */
export interface Runtime {
  config: Config;
  hub: Hub;
  pipeline: Pipeline;
  /** Starts the eager children (once); resolves when each is ready or has failed. */
  start(): Promise<void>;
  /** Starts the children if not yet, and waits until none is still starting (at most the longest startup deadline). */
  settled(): Promise<void>;
  stop(): Promise<void>;
}

/** A bridge for processes with no upstream client: children are told no client capabilities. */
export const NO_UPSTREAM: UpstreamBridge = {
  capabilities: () => ({}),
  request: async (method) => {
    throw new Error(`${method} is not available: no MCP client is connected`);
  },
};

export function createRuntime(config: Config, bridge: UpstreamBridge = NO_UPSTREAM): Runtime {
  const hub = new Hub(config, bridge);
  const maxStartup = Math.max(0, ...config.servers.map((s) => s.startupTimeoutMs));
  let started: Promise<void> | undefined;
  const start = () => (started ??= hub.startEager());
  const settled = async () => {
    void start();
    await hub.settled(maxStartup);
  };
  const router: Router = {
    tool: (name) => hub.routing.toolRoutes.get(name),
    prompt: (name) => hub.routing.promptRoutes.get(name),
    resource: (uri) => hub.routing.resourceOwner(uri),
    settled,
  };
  return { config, hub, pipeline: new Pipeline(router), start, settled, stop: () => hub.stop() };
}
