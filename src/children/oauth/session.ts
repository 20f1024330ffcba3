import { randomUUID } from 'node:crypto';
import {
  ClientCredentialsProvider,
  OAuthError,
  OAuthErrorCode,
  fetchToken,
  refreshAuthorization,
  type AuthProvider,
  type FetchLike,
  type StoredOAuthClientInformation,
} from '@modelcontextprotocol/client';

type UnauthorizedContext = Parameters<NonNullable<AuthProvider['onUnauthorized']>>[0];
import type { ServerConfig } from '../../config/types.js';
import { McpxError, errorMessage } from '../../errors.js';
import { loginNeeded } from './needed.js';
import { log } from '../../util/log.js';
import { discoverServer } from './discovery.js';
import { withFileLock } from './lock.js';
import { expiryOf } from './provider.js';
import { readRecord, recordLock, recordStamp, signedIn, writeRecord, type OAuthRecord } from './store.js';

/** How long a refresh waits for another process's refresh of the same server to end. */
const LOCK_WAIT_MS = 30_000;
/** Refreshed this long before it expires (at most a fifth of its life: short-lived tokens are used too). */
const EARLY_MS = 60_000;
/**
 * A token request is given up after this long. Well inside the lock's stale time (lock.ts): a refresh
 * still in flight can never see its lock taken over and the same refresh token sent again.
 */
const REQUEST_MS = 30_000;

/**
 * The bearer token of one remote child, for its transport (the SDK asks `token()` before each request
 * and `onUnauthorized()` on a 401, then retries once). Refreshes before expiry and on a 401; one
 * refresh at a time per server among the calls of this process (a shared promise) and among every
 * mcpx process on the state directory (a lock file), re-reading the stored tokens once it holds the
 * lock: a refresh token is used once, and a second use would make the server revoke the grant.
 */
export class OAuthSession implements AuthProvider {
  private cached?: { stamp: string; record: OAuthRecord | undefined };
  private renewing?: Promise<void>;

  constructor(
    private readonly server: ServerConfig,
    private readonly stateDir: string,
  ) {}

  private get name(): string {
    return this.server.name;
  }

  private get url(): string {
    return this.server.url!;
  }

  private get clientCredentials(): boolean {
    return this.server.oauth?.grant === 'client_credentials';
  }

  /** The stored record, read again only when another process (or a login) wrote it. */
  private record(): OAuthRecord | undefined {
    const stamp = recordStamp(this.stateDir, this.name);
    if (this.cached?.stamp !== stamp) this.cached = { stamp, record: readRecord(this.stateDir, this.name) };
    return this.cached.record;
  }

  /** The sign-in this connection uses (for cache keys: another sign-in, other answers). */
  grantId(): string | undefined {
    return this.record()?.grantId;
  }

  async token(): Promise<string | undefined> {
    let record = this.record();
    if (!signedIn(record, this.url)) {
      if (this.clientCredentials) {
        await this.renew(undefined);
        record = this.record();
      } else if (this.server.oauth) {
        throw loginNeeded(this.name, record?.url === this.url ? record.lostReason : undefined);
      } else {
        return undefined; // not declared, never signed in: the server's 401 says whether it wants a sign-in
      }
    } else if (nearExpiry(record)) {
      await this.renew(record.tokens.access_token);
      record = this.record();
    }
    return signedIn(record, this.url) ? record.tokens.access_token : undefined;
  }

  async onUnauthorized(ctx: UnauthorizedContext): Promise<void> {
    const record = this.record();
    if (!signedIn(record, this.url) && !this.clientCredentials) {
      const challenge = ctx.response.headers.get('www-authenticate') ?? '';
      if (!this.server.oauth && !/^\s*bearer\b/i.test(challenge)) {
        // Not an OAuth server: a plain refusal (the entry's credentials are wrong).
        throw Object.assign(new Error(`HTTP 401 from ${this.name}`), { name: 'UnauthorizedError', status: 401 });
      }
      // No token was sent: an `error="invalid_token"` in the challenge (some servers always add one) says nothing more.
      throw loginNeeded(this.name, record?.url === this.url ? record?.lostReason : undefined);
    }
    await this.renew(signedIn(record, this.url) ? record.tokens.access_token : undefined);
  }

  /** One renewal at a time in this process; `stale` is the access token that was refused or ran out. */
  private renew(stale: string | undefined): Promise<void> {
    return (this.renewing ??= withFileLock(recordLock(this.stateDir, this.name), LOCK_WAIT_MS, () => this.renewLocked(stale)).finally(() => {
      this.renewing = undefined;
    }));
  }

  private async renewLocked(stale: string | undefined): Promise<void> {
    const record = readRecord(this.stateDir, this.name);
    this.cached = undefined;
    // Another process (or an earlier call here) renewed it while this one waited for the lock.
    if (signedIn(record, this.url) && record.tokens.access_token !== stale && !nearExpiry(record)) return;
    if (this.clientCredentials) return this.fetchClientCredentials(record);
    if (!signedIn(record, this.url)) throw loginNeeded(this.name, record?.url === this.url ? record.lostReason : undefined);
    const refreshToken = record.tokens.refresh_token;
    if (!refreshToken) return this.lose(record, 'the access token ran out and the server gave no refresh token');
    const discovery = record.discovery ?? (await discoverServer(this.server));
    try {
      const tokens = await refreshAuthorization(discovery.authorizationServerUrl, {
        metadata: discovery.authorizationServerMetadata,
        clientInformation: this.clientInformation(record),
        refreshToken,
        ...(record.resource && { resource: record.resource }),
        fetchFn: timedFetch,
      });
      writeRecord(this.stateDir, { ...record, discovery, tokens: { ...tokens, scope: tokens.scope ?? record.tokens.scope, issuer: record.tokens.issuer }, expiresAt: expiryOf(tokens), lostReason: undefined });
      log.debug(`${this.name}: OAuth access token refreshed`);
    } catch (e) {
      if (e instanceof OAuthError && GRANT_GONE.has(e.code)) return this.lose(record, `the server refused the refresh: ${e.code}`);
      throw new McpxError(`${this.name}: could not refresh its OAuth token: ${errorMessage(e)}`, { code: 'CHILD_START', server: this.name, cause: e });
    }
  }

  /** The grant is gone: the tokens are forgotten (the registration is kept) and the user must sign in. */
  private lose(record: OAuthRecord, why: string): never {
    writeRecord(this.stateDir, { ...record, tokens: undefined, expiresAt: undefined, lostReason: why });
    log.warn(`${this.name}: ${why}; run \`mcpx login ${this.name}\``);
    throw loginNeeded(this.name, why);
  }

  private clientInformation(record: OAuthRecord): StoredOAuthClientInformation {
    const s = this.server.oauth;
    if (s?.clientId) return { client_id: s.clientId, ...(s.clientSecret && { client_secret: s.clientSecret }) };
    if (!record.client) throw loginNeeded(this.name, 'no client registration is stored');
    return record.client;
  }


  /** Machine to machine: a token from the client id and secret, at start and whenever it runs out. */
  private async fetchClientCredentials(previous: OAuthRecord | undefined): Promise<void> {
    const s = this.server.oauth!;
    const discovery = previous?.url === this.url && previous.discovery ? previous.discovery : await discoverServer(this.server);
    const metadata = discovery.authorizationServerMetadata;
    const provider = new ClientCredentialsProvider({
      clientId: s.clientId!,
      clientSecret: s.clientSecret!,
      ...(s.scopes.length && { scope: s.scopes.join(' ') }),
      expectedIssuer: metadata?.issuer ?? discovery.authorizationServerUrl,
    });
    // As the server wrote it (a URL would add "/" to a bare origin, which servers comparing exactly refuse).
    const resource = s.resource === false ? undefined : (discovery.resourceMetadata?.resource ?? this.url);
    let tokens;
    try {
      tokens = await fetchToken(provider, discovery.authorizationServerUrl, { metadata, ...(resource && { resource }), ...(s.scopes.length && { scope: s.scopes.join(' ') }), fetchFn: timedFetch });
    } catch (e) {
      throw new McpxError(`${this.name}: the authorization server refused the client credentials: ${errorMessage(e)}`, {
        code: 'CHILD_START', server: this.name, field: 'oauth', cause: e, suggestion: 'check oauth.clientId and oauth.clientSecret',
      });
    }
    writeRecord(this.stateDir, {
      server: this.name, url: this.url, discovery, resource, tokens, expiresAt: expiryOf(tokens), grantId: previous?.grantId ?? randomUUID(),
    });
  }
}

/** fetch with REQUEST_MS as its limit (a timer, so that a test's fake clock can run it out). */
const timedFetch: FetchLike = (url, init) => {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`no answer from the authorization server within ${REQUEST_MS / 1000} s`)), REQUEST_MS);
  return fetch(url, { ...init, signal: ac.signal }).finally(() => clearTimeout(timer));
};

const GRANT_GONE = new Set<string>([OAuthErrorCode.InvalidGrant, OAuthErrorCode.InvalidClient, OAuthErrorCode.UnauthorizedClient]);

function nearExpiry(record: OAuthRecord, now = Date.now()): boolean {
  if (record.expiresAt === undefined) return false;
  const life = typeof record.tokens?.expires_in === 'number' ? record.tokens.expires_in * 1000 : EARLY_MS * 5;
  return record.expiresAt - now <= Math.min(EARLY_MS, life / 5);
}
