import type { ServerConfig } from '../config/types.js';
import type { Child } from './child.js';

/**
 * A child's effective instructions: the config's `instructions` replace the child's own (or stand in
 * where it has none). Used for mcpx's merged initialize text and for mcpx://status.
 */
export interface ChildInstructions {
  text?: string;
  source?: 'config' | 'server';
}

export function childInstructions(server: ServerConfig, own: string | undefined): ChildInstructions {
  if (server.instructions !== undefined && server.instructions.trim()) return { text: server.instructions.trim(), source: 'config' };
  if (own !== undefined && own.trim()) return { text: own.trim(), source: 'server' };
  return {};
}

/** What a running (or stored) child said in its last initialize. */
export function instructionsOf(child: Child): ChildInstructions {
  return childInstructions(child.config, child.instructions ?? child.catalog?.instructions);
}
