// What every child asks of sign-in (does it want one, is one needed), apart from the sign-in itself:
// a session of stdio children loads only this; session.ts, its lock and the SDK's OAuth calls load
// when a remote child signs in.
import type { ServerConfig } from '../../config/types.js';
import { McpxError } from '../../errors.js';

/** The child cannot be used until the user signs in again: the message names the command. */
export function loginNeeded(server: string, why?: string): McpxError {
  return new McpxError(`${server}: sign-in needed${why ? ` (${why})` : ''}: run \`mcpx login ${server}\``, {
    code: 'LOGIN_NEEDED',
    server,
    suggestion: `run \`mcpx login ${server}\` in a terminal`,
  });
}

/** A login-needed error, thrown as it is or carried as the cause of another. */
export function isLoginNeeded(e: unknown): boolean {
  return loginNeededIn(e) !== undefined;
}

/** The login-needed error in `e` or its causes (the SDK may wrap what the transport's auth provider threw). */
export function loginNeededIn(e: unknown): McpxError | undefined {
  for (let x = e, depth = 0; x && depth < 5; x = (x as { cause?: unknown }).cause, depth++) {
    if ((x as { code?: unknown }).code === 'LOGIN_NEEDED') return x as McpxError;
  }
  return undefined;
}

/** Whether mcpx should sign in to this remote child: declared, or not already carrying its own Authorization. */
export function wantsOAuth(c: ServerConfig): boolean {
  if (c.transport === 'stdio') return false;
  if (c.oauth) return true;
  return !c.headersHelper && !Object.keys(c.headers).some((h) => h.toLowerCase() === 'authorization');
}
