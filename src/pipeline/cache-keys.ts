import type { CacheAdvice } from '../children/advice.js';
import type { Child } from '../children/child.js';
import { cacheKeyOf } from '../cache/key.js';
import { canonicalJson, sha256 } from '../util/canonical.js';

/**
 * Whose answer a cache entry is, and so which keys a call looks up and which one its answer goes under:
 * - per credential (the default): keyed by the salted fingerprint of the credentials the child runs
 *   with, so that only a caller with identical credentials is served it;
 * - public (`cache.scope: "public"`, or a 2026 child's `cacheScope: "public"` on that result): keyed by
 *   nothing of who asks, so that a whole team shares it;
 * - private (a 2026 child's `cacheScope: "private"`): keyed by the credentials and the caller, never
 *   served to anyone else; with no caller known it is not stored at all.
 * Only a 2026 child gives advice, so a 2025 child's call looks up one key; a 2026 child's call looks up
 * the entries its advice may have made, most specific first.
 */
export type KeyedChild = Pick<Child, 'config' | 'knownEra' | 'credentialFingerprint'>;

export class CallKeys {
  /** The child may advise a scope (2026 era, or not known yet). */
  private readonly advised: boolean;
  private readonly argsJson: string;
  /** The key of the config's scope, as lookup() made it. */
  private primary?: string;

  constructor(
    private readonly child: KeyedChild,
    private readonly call: { kind: 'tool' | 'resource'; name: string; args: unknown },
    private readonly caller: string | undefined,
  ) {
    this.advised = child.knownEra !== 'legacy';
    this.argsJson = canonicalJson(call.args ?? {});
  }

  /** The keys to look up, most specific first; none while the salt or the credentials are not known (and the scope needs them). */
  lookup(salt: Buffer | undefined): string[] {
    const fp = salt && this.child.credentialFingerprint(salt);
    const keys: string[] = [];
    if (this.advised && fp && this.caller) keys.push(this.key(fp, this.caller));
    this.primary = this.child.config.cache.scope === 'public' ? this.key('') : fp ? this.key(fp) : undefined;
    if (this.primary) keys.push(this.primary);
    if (this.advised && this.child.config.cache.scope !== 'public') keys.push(this.key(''));
    return keys;
  }

  /** The key an answer with this advice is stored under, with the credentials it came with; undefined: not stored. */
  store(salt: Buffer | undefined, advice: CacheAdvice | undefined): string | undefined {
    const scope = this.advised ? advice?.cacheScope : undefined;
    if (scope === 'public' || (scope === undefined && this.child.config.cache.scope === 'public')) return this.key('');
    const fp = salt && this.child.credentialFingerprint(salt);
    if (!fp) return undefined;
    if (scope !== 'private') return this.key(fp);
    return this.caller ? this.key(fp, this.caller) : undefined; // never guess whose it is
  }

  /**
   * Identical calls in flight share one child call under this key (after lookup()). A 2025 child's
   * answers are per credential or public: its calls share under the entry's own key, as its answer would
   * be served from the cache. A 2026 child's answer may be private: only one caller's calls share, and
   * with no caller known, none do.
   */
  flight(): string | undefined {
    if (!this.advised) return this.primary ?? sha256('flight', this.child.config.name, this.child.config.identity, this.call.kind, this.call.name, this.argsJson);
    if (!this.caller) return undefined;
    return sha256('flight', this.child.config.name, this.child.config.identity, this.call.kind, this.call.name, this.argsJson, this.caller);
  }

  private key(credentialFingerprint: string, caller?: string): string {
    return cacheKeyOf({ identity: this.child.config.identity, credentialFingerprint, caller, kind: this.call.kind, name: this.call.name }, this.argsJson);
  }
}
