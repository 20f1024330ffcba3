import { createHash, timingSafeEqual } from 'node:crypto';
import { hostHeaderValidationResponse, localhostAllowedHostnames, localhostAllowedOrigins, originValidationResponse } from '@modelcontextprotocol/server';
import type { HttpConfig } from '../config/types.js';
import { isLoopback } from '../util/loopback.js';

/**
 * The gates of `serve --http` in front of /mcp and /metrics: the bearer token, and the DNS-rebinding
 * checks the MCP spec asks for (Host on a loopback bind, Origin on browser requests).
 */

/** Who presented a valid token; `name` is what the audit trail records (`http.tokens`). */
export interface Caller {
  name: string;
}

/**
 * Checks `Authorization: Bearer <token>` against the configured tokens. Tokens are compared as sha256
 * digests with timingSafeEqual: the time taken depends neither on how much of a token matched nor on
 * its length. Every configured token is compared, so neither does it tell which one matched. With no
 * token configured (loopback only), every request passes, as the local user.
 */
export function bearerGate(tokens: HttpConfig['tokens']): (request: Request) => Caller | Response {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  const known = tokens.map((t) => ({ name: t.name, digest: digest(t.token) }));
  return (request) => {
    if (!known.length) return { name: 'local' };
    const header = request.headers.get('authorization') ?? '';
    const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (!m) return unauthorized(header ? 'invalid_token' : undefined, header ? 'the Authorization header must be "Bearer <token>"' : 'a bearer token is required');
    const presented = digest(m[1]!);
    let caller: Caller | undefined;
    for (const k of known) if (timingSafeEqual(k.digest, presented) && !caller) caller = { name: k.name };
    return caller ?? unauthorized('invalid_token', 'the token is not valid');
  };
}

/**
 * 401 per RFC 6750: `WWW-Authenticate: Bearer realm="mcpx"`, with error="invalid_token" once a
 * credential was given (a malformed header too: the client's remedy is the same, a valid token).
 */
function unauthorized(error: 'invalid_token' | undefined, description: string): Response {
  const challenge = `Bearer realm="mcpx"${error ? `, error="${error}", error_description="${description}"` : ''}`;
  return Response.json({ error: error ?? 'unauthorized', error_description: description }, { status: 401, headers: { 'www-authenticate': challenge } });
}

/**
 * DNS-rebinding protection. Bound to loopback: the Host header must name this machine, and a browser's
 * Origin must be a loopback one. Bound elsewhere: a browser's Origin must be the host it called (same
 * host); requests without Origin (MCP clients that are not browsers) pass. A refusal is a 403.
 */
export function originGate(boundHost: string): (request: Request) => Response | undefined {
  if (isLoopback(boundHost)) {
    const hosts = localhostAllowedHostnames();
    const origins = localhostAllowedOrigins();
    return (request) => hostHeaderValidationResponse(request, hosts) ?? originValidationResponse(request, origins);
  }
  return (request) => {
    if (!request.headers.get('origin')) return undefined;
    const host = request.headers.get('host') ?? '';
    let hostname: string;
    try {
      hostname = new URL(`http://${host}`).hostname;
    } catch {
      return originValidationResponse(request, []);
    }
    return originValidationResponse(request, [hostname]);
  };
}
