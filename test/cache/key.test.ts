import { describe, expect, it } from 'vitest';
import { cacheKey } from '../../src/cache/key.js';

const base = { identity: 'id', credentialFingerprint: 'fp', kind: 'tool' as const, name: 'search' };

describe('cacheKey', () => {
  it('ignores the order of argument keys, at every depth', () => {
    expect(cacheKey({ ...base, args: { a: 1, b: { c: [1, { d: 1, e: 2 }], f: null } } }))
      .toBe(cacheKey({ ...base, args: { b: { f: null, c: [1, { e: 2, d: 1 }] }, a: 1 } }));
  });

  it('differs for any part: identity, credentials, kind, name, args', () => {
    const k = cacheKey({ ...base, args: { q: 1 } });
    expect(cacheKey({ ...base, identity: 'id2', args: { q: 1 } })).not.toBe(k);
    expect(cacheKey({ ...base, credentialFingerprint: 'fp2', args: { q: 1 } })).not.toBe(k);
    expect(cacheKey({ ...base, kind: 'resource', args: { q: 1 } })).not.toBe(k);
    expect(cacheKey({ ...base, name: 'other', args: { q: 1 } })).not.toBe(k);
    expect(cacheKey({ ...base, args: { q: 2 } })).not.toBe(k);
    expect(cacheKey({ ...base, args: [1, 2] })).not.toBe(cacheKey({ ...base, args: [2, 1] }));
  });

  it('treats no arguments and {} as the same call, and is a sha256 hex (no raw input inside)', () => {
    expect(cacheKey({ ...base, args: undefined })).toBe(cacheKey({ ...base, args: {} }));
    const k = cacheKey({ ...base, credentialFingerprint: 'secret-token-value', args: { q: 'x' } });
    expect(k).toMatch(/^[0-9a-f]{64}$/);
  });
});
