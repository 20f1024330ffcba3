import type { ServerConfig } from '../../config/types.js';
import { log } from '../../util/log.js';
import { withFileLock } from './lock.js';
import { readRecord, recordLock, signedIn, writeRecord } from './store.js';

/** What `mcpx login --list` shows of one server: never a token. */
export interface SignInState {
  server: string;
  url: string;
  grant: 'authorization_code' | 'client_credentials';
  signedIn: boolean;
  scopes?: string[];
  /** When the access token expires (it is refreshed before then). */
  expiresAt?: string;
  /** Why the last sign-in ended (the server refused a refresh). */
  lost?: string;
}

export function signInState(server: ServerConfig, stateDir: string): SignInState {
  const record = readRecord(stateDir, server.name);
  const ok = signedIn(record, server.url!);
  return {
    server: server.name,
    url: server.url!,
    grant: server.oauth?.grant ?? 'authorization_code',
    signedIn: ok,
    scopes: ok ? record.tokens.scope?.split(' ').filter(Boolean) : undefined,
    expiresAt: ok && record.expiresAt !== undefined ? new Date(record.expiresAt).toISOString() : undefined,
    lost: record?.url === server.url ? record?.lostReason : undefined,
  };
}

/** A server worth listing: it declares `oauth`, or it was signed in to. */
export function hasSignIn(server: ServerConfig, stateDir: string): boolean {
  return server.transport !== 'stdio' && (!!server.oauth || readRecord(stateDir, server.name) !== undefined);
}

/**
 * Forgets the tokens (the client registration and the callback port stay, so the next login matches the
 * registered redirect URI). The refresh token is revoked first where the server offers revocation (RFC 7009).
 */
export async function logout(server: ServerConfig, stateDir: string): Promise<{ server: string; signedOut: boolean; revoked: boolean }> {
  return withFileLock(recordLock(stateDir, server.name), 30_000, async () => {
    const record = readRecord(stateDir, server.name);
    if (!record?.tokens) return { server: server.name, signedOut: false, revoked: false };
    const revoked = await revoke(server, record.tokens.refresh_token ?? record.tokens.access_token, record.tokens.refresh_token ? 'refresh_token' : 'access_token', record);
    writeRecord(stateDir, { ...record, tokens: undefined, expiresAt: undefined, grantId: undefined, lostReason: undefined });
    return { server: server.name, signedOut: true, revoked };
  });
}

async function revoke(server: ServerConfig, token: string, hint: string, record: NonNullable<ReturnType<typeof readRecord>>): Promise<boolean> {
  const endpoint = (record.discovery?.authorizationServerMetadata as { revocation_endpoint?: string } | undefined)?.revocation_endpoint;
  if (!endpoint) return false;
  const clientId = server.oauth?.clientId ?? record.client?.client_id;
  const secret = server.oauth?.clientId ? server.oauth.clientSecret : record.client?.client_secret;
  const body = new URLSearchParams({ token, token_type_hint: hint });
  const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
  if (clientId && secret) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  else if (clientId) body.set('client_id', clientId);
  try {
    const r = await fetch(endpoint, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
    await r.body?.cancel().catch(() => undefined);
    return r.ok;
  } catch (e) {
    log.debug(`${server.name}: revocation failed: ${(e as Error).message}`); // the tokens are forgotten anyway
    return false;
  }
}
