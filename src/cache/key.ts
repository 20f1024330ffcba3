import { canonicalJson, sha256 } from '../util/canonical.js';

/**
 * The cache key of one call: who the child is, whose answer it is, what is called, and the arguments
 * with their keys sorted. Missing args and `{}` are the same call.
 *
 * Whose answer: the salted fingerprint of the credentials the child runs with (children/credentials.ts:
 * never the values, and a rotated token does not read what the old one fetched), or '' for an entry
 * shared by everyone (`cache.scope: "public"`); plus the caller for a private entry (a 2026 child's
 * `cacheScope: "private"`), which no other caller is ever served.
 */
export interface KeyParts {
  identity: string;
  /** Salted (a hex HMAC), or '' for a public entry. */
  credentialFingerprint: string;
  /** Who asked, for a private entry only (never empty). */
  caller?: string;
  kind: 'tool' | 'resource';
  name: string;
  args: unknown;
}

export function cacheKey(p: KeyParts): string {
  return cacheKeyOf(p, canonicalJson(p.args ?? {}));
}

/** cacheKey with the arguments' canonical JSON made once, for a call that looks up several keys. */
export function cacheKeyOf(p: Omit<KeyParts, 'args'>, argsJson: string): string {
  return sha256('mcpx-cache-v2', p.identity, p.credentialFingerprint, p.caller ?? '', p.kind, p.name, argsJson);
}
