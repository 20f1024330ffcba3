import { chmodSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OAuthDiscoveryState } from '@modelcontextprotocol/client';
import type { StoredOAuthClientInformation, StoredOAuthTokens } from '@modelcontextprotocol/client';

/**
 * What mcpx keeps about one server's sign-in, one file per server in `<stateDir>/oauth/` (folder 0700,
 * files 0600). The only place tokens are written; nothing else reads this folder.
 */
export interface OAuthRecord {
  server: string;
  /** The MCP URL signed in to: a record for another URL (the config changed) counts as not signed in. */
  url: string;
  /** The loopback port of the redirect URI registered with `client`: the same at every login. */
  callbackPort?: number;
  client?: StoredOAuthClientInformation;
  discovery?: OAuthDiscoveryState;
  /** The RFC 8707 resource indicator sent at login: refreshes send the same. */
  resource?: string;
  tokens?: StoredOAuthTokens;
  /** ms since the epoch when the access token expires (from `expires_in` at the time it was issued). */
  expiresAt?: number;
  /** A random id per sign-in (not secret): cached answers of one sign-in are not served to another. */
  grantId?: string;
  /** Why the grant is gone (the server refused a refresh): shown until the next login. */
  lostReason?: string;
}

export function oauthDir(stateDir: string): string {
  return join(stateDir, 'oauth');
}

export function recordFile(stateDir: string, server: string): string {
  return join(oauthDir(stateDir), `${server}.json`);
}

/** The lock every writer of a server's tokens holds (a refresh, a login's writes, a logout): see lock.ts. */
export function recordLock(stateDir: string, server: string): string {
  return `${recordFile(stateDir, server)}.lock`;
}

export function readRecord(stateDir: string, server: string): OAuthRecord | undefined {
  try {
    return JSON.parse(readFileSync(recordFile(stateDir, server), 'utf8')) as OAuthRecord;
  } catch {
    return undefined; // none yet, or a half-written file from a crash (writes rename, so unlikely): sign in again
  }
}

/** A stamp that changes whenever another process writes the record (cheap: one stat). */
export function recordStamp(stateDir: string, server: string): string {
  try {
    const s = statSync(recordFile(stateDir, server));
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  } catch {
    return 'none';
  }
}

/** Writes the record whole (a temp file renamed over it): a reader never sees half of it. */
export function writeRecord(stateDir: string, record: OAuthRecord): void {
  const dir = oauthDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const file = recordFile(stateDir, record.server);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(record, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600); // a umask cannot widen it, but an old file left by a crash could be wider
  renameSync(tmp, file);
}

export function removeRecord(stateDir: string, server: string): boolean {
  const file = recordFile(stateDir, server);
  try {
    statSync(file);
  } catch {
    return false;
  }
  rmSync(file, { force: true });
  return true;
}

/** The servers with a record, by name. */
export function recordNames(stateDir: string): string[] {
  try {
    return readdirSync(oauthDir(stateDir))
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length));
  } catch {
    return [];
  }
}

/** Signed in: tokens for this URL. */
export function signedIn(record: OAuthRecord | undefined, url: string): record is OAuthRecord & { tokens: StoredOAuthTokens } {
  return !!record?.tokens?.access_token && record.url === url;
}

/** The id of the current sign-in to this server at this URL (not secret), if signed in. */
export function signInId(stateDir: string, server: string, url: string): string | undefined {
  const record = readRecord(stateDir, server);
  return signedIn(record, url) ? record.grantId : undefined;
}
