import { discoverOAuthProtectedResourceMetadata, discoverOAuthServerInfo, type AuthorizationServerMetadata, type OAuthDiscoveryState } from '@modelcontextprotocol/client';
import type { ServerConfig } from '../../config/types.js';

/**
 * Where a remote child's tokens come from: RFC 9728 protected resource metadata (from the 401's
 * `resource_metadata` when given, else the well-known paths), then the authorization server's RFC 8414
 * metadata with OpenID discovery as the fallback (the SDK's chain). With `oauth.authServerMetadataUrl`
 * the authorization server's metadata is read from there instead, for servers the chain cannot find.
 */
export async function discoverServer(server: ServerConfig, resourceMetadataUrl?: URL): Promise<OAuthDiscoveryState> {
  const url = server.url!;
  const pinned = server.oauth?.authServerMetadataUrl;
  if (!pinned) return { ...(await discoverOAuthServerInfo(url, { ...(resourceMetadataUrl && { resourceMetadataUrl }) })), ...(resourceMetadataUrl && { resourceMetadataUrl: resourceMetadataUrl.href }) };
  const metadata = await readMetadata(pinned);
  // The resource metadata still names the resource indicator to send, where the server publishes it.
  const resourceMetadata = await discoverOAuthProtectedResourceMetadata(url, { ...(resourceMetadataUrl && { resourceMetadataUrl }) }).catch(() => undefined);
  return {
    authorizationServerUrl: metadata.issuer,
    authorizationServerMetadata: metadata,
    ...(resourceMetadata && { resourceMetadata }),
    ...(resourceMetadataUrl && { resourceMetadataUrl: resourceMetadataUrl.href }),
  };
}

async function readMetadata(url: string): Promise<AuthorizationServerMetadata> {
  const r = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(30_000) });
  if (!r.ok) {
    await r.body?.cancel().catch(() => undefined);
    throw new Error(`HTTP ${r.status} from oauth.authServerMetadataUrl ${url}`);
  }
  const m = (await r.json()) as Partial<AuthorizationServerMetadata>;
  for (const k of ['issuer', 'authorization_endpoint', 'token_endpoint'] as const) {
    if (typeof m[k] !== 'string') throw new Error(`the metadata at oauth.authServerMetadataUrl ${url} has no "${k}"`);
  }
  return { response_types_supported: ['code'], ...m } as AuthorizationServerMetadata;
}
