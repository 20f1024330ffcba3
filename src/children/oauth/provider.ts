import type { OAuthClientMetadata, OAuthClientProvider, OAuthDiscoveryState, StoredOAuthClientInformation, StoredOAuthTokens } from '@modelcontextprotocol/client';
import { checkResourceAllowed } from '@modelcontextprotocol/client';
import type { OAuthSettings } from '../../config/types.js';
import type { OAuthRecord } from './store.js';

/**
 * The SDK's view of one sign-in (`auth()` drives discovery, registration, PKCE and the exchange
 * through it): everything it saves lands in the record, which the caller writes to disk.
 */
export class RecordProvider implements OAuthClientProvider {
  private verifier?: string;

  constructor(
    readonly record: OAuthRecord,
    private readonly settings: OAuthSettings | undefined,
    private readonly opts: { redirectUrl?: string; state?: string; onRedirect?: (url: URL) => void | Promise<void> },
  ) {}

  get redirectUrl(): string | undefined {
    return this.opts.redirectUrl;
  }

  get clientMetadataUrl(): string | undefined {
    return this.settings?.clientMetadataUrl;
  }

  get clientMetadata(): OAuthClientMetadata {
    const scope = this.settings?.scopes.join(' ');
    return {
      client_name: 'mcpx',
      redirect_uris: this.opts.redirectUrl ? [this.opts.redirectUrl] : [],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: this.settings?.clientSecret ? 'client_secret_basic' : 'none',
      ...(scope && { scope }),
    };
  }

  state(): string {
    if (!this.opts.state) throw new Error('no state for this sign-in');
    return this.opts.state;
  }

  clientInformation(): StoredOAuthClientInformation | undefined {
    const s = this.settings;
    if (s?.clientId) {
      const issuer = this.record.discovery?.authorizationServerMetadata?.issuer;
      return { client_id: s.clientId, ...(s.clientSecret && { client_secret: s.clientSecret }), ...(issuer && { issuer }) };
    }
    const c = this.record.client;
    // A registration made for another redirect URI (callbackPort changed) does not fit: register again.
    const uris = (c as { redirect_uris?: string[] } | undefined)?.redirect_uris;
    if (c && this.opts.redirectUrl && uris && !uris.includes(this.opts.redirectUrl)) return undefined;
    return c;
  }

  saveClientInformation(info: StoredOAuthClientInformation): void {
    if (!this.settings?.clientId) this.record.client = info;
  }

  tokens(): StoredOAuthTokens | undefined {
    return this.record.tokens;
  }

  saveTokens(tokens: StoredOAuthTokens): void {
    this.record.tokens = tokens;
    this.record.expiresAt = expiryOf(tokens);
    this.record.lostReason = undefined;
  }

  async redirectToAuthorization(url: URL): Promise<void> {
    if (!this.opts.onRedirect) throw new Error('sign-in needs a browser: run `mcpx login`');
    await this.opts.onRedirect(url);
  }

  saveCodeVerifier(verifier: string): void {
    this.verifier = verifier;
  }

  codeVerifier(): string {
    if (!this.verifier) throw new Error('no PKCE verifier for this sign-in');
    return this.verifier;
  }

  /**
   * RFC 8707: the protected resource's own identifier (checked against the URL), or the URL when the
   * server publishes none, or nothing with `resource: false`. The identifier is sent as the server wrote
   * it: as a URL a bare origin would gain a "/", and servers that bind tokens to their identifier
   * compare it exactly (invalid_target). The SDK sends a string as it is (its type says URL only).
   */
  async validateResourceURL(serverUrl: string | URL, resource?: string): Promise<URL | undefined> {
    if (this.settings?.resource === false) return undefined;
    if (!resource) return new URL(serverUrl);
    if (!checkResourceAllowed({ requestedResource: serverUrl, configuredResource: resource })) {
      throw new Error(`the server names its resource ${resource}, which does not match ${String(serverUrl)}`);
    }
    return resource as unknown as URL;
  }

  saveResourceUrl(resource: string): void {
    this.record.resource = resource;
  }

  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.record.discovery = state;
  }

  discoveryState(): OAuthDiscoveryState | undefined {
    return this.record.discovery;
  }

  invalidateCredentials(scope: 'all' | 'client' | 'tokens' | 'verifier' | 'discovery'): void {
    if (scope === 'all' || scope === 'tokens') this.record.tokens = undefined;
    if (scope === 'all' || scope === 'client') this.record.client = undefined;
    if (scope === 'all' || scope === 'discovery') this.record.discovery = undefined;
    if (scope === 'all' || scope === 'verifier') this.verifier = undefined;
  }
}

/** When an access token expires, from its `expires_in` counted from now (it was just issued). */
export function expiryOf(tokens: StoredOAuthTokens, now = Date.now()): number | undefined {
  return typeof tokens.expires_in === 'number' ? now + tokens.expires_in * 1000 : undefined;
}
