import { SSEClientTransport, StreamableHTTPClientTransport, type AuthProvider, type Transport } from '@modelcontextprotocol/client';
import { httpStatus } from './child.js';
import type { StreamCorrelation } from './streams.js';

/**
 * Transports for remote children. `type: "http"` is Streamable HTTP; when the server only speaks the
 * older HTTP+SSE transport (the first POST answers 4xx), the caller retries with `sse`.
 */
export function remoteTransport(
  kind: 'http' | 'sse',
  url: string,
  headers: Record<string, string>,
  streams?: StreamCorrelation,
  authProvider?: AuthProvider,
): Transport {
  const requestInit = { headers };
  if (kind === 'sse') {
    // EventSource does not take requestInit headers: pass them through its fetch as well. The SDK hands
    // this fetch a Headers object (with the bearer token and Accept): added to, never spread (a spread
    // Headers is empty, and the token would be lost).
    return new SSEClientTransport(new URL(url), {
      requestInit,
      authProvider,
      eventSourceInit: { fetch: (u, init) => fetch(u, { ...init, headers: withHeaders(init?.headers, headers) }) },
    });
  }
  if (!streams) return new StreamableHTTPClientTransport(new URL(url), { requestInit, authProvider });
  // Watched: a child's request on the stream of one of ours belongs to that call (streams.ts).
  return streams.transport(new StreamableHTTPClientTransport(new URL(url), { requestInit, authProvider, fetch: streams.fetch((u, init) => fetch(u, init)) }));
}

/** `extra` added to the request's own headers, which win (the SDK's Authorization and Accept). */
function withHeaders(own: HeadersInit | undefined, extra: Record<string, string>): Headers {
  const h = new Headers(own);
  for (const [k, v] of Object.entries(extra)) if (!h.has(k)) h.set(k, v);
  return h;
}

/** A Streamable HTTP failure that means "this server speaks SSE instead" (per the spec's fallback rule). */
export function shouldFallBackToSse(error: unknown): boolean {
  const code = httpStatus(error);
  return code !== undefined && code >= 400 && code < 500 && code !== 401 && code !== 403;
}
