import { canonicalJson, sha256 } from '../util/canonical.js';

/**
 * The cache key of one call: who the child is, which credentials it runs with (a fingerprint, never
 * the values: a rotated token must not read results fetched with the old one), what is called, and
 * the arguments with their keys sorted. Missing args and `{}` are the same call.
 */
export interface KeyParts {
  identity: string;
  credentialFingerprint: string;
  kind: 'tool' | 'resource';
  name: string;
  args: unknown;
}

export function cacheKey(p: KeyParts): string {
  return sha256('mcpx-cache-v1', p.identity, p.credentialFingerprint, p.kind, p.name, canonicalJson(p.args ?? {}));
}
