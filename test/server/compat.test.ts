// The compatibility rules between the eras (src/server/compat.ts), case by case.
import { describe, expect, it } from 'vitest';
import { legacyToolResult, needsLegacyWrap } from '../../src/server/compat.js';

describe('legacyToolResult: a call result for a 2025 client', () => {
  const array = { type: 'array', items: { type: 'string' } };
  it('wraps structuredContent when the listed schema was wrapped, or when the value is not an object', () => {
    expect(legacyToolResult({ content: [], structuredContent: ['a'] }, array)).toEqual({ content: [], structuredContent: { result: ['a'] } });
    expect(legacyToolResult({ content: [], structuredContent: { n: 1 } }, { anyOf: [{ type: 'object' }, { type: 'string' }] })).toEqual({ content: [], structuredContent: { result: { n: 1 } } });
    expect(legacyToolResult({ content: [], structuredContent: 5 }, undefined)).toEqual({ content: [], structuredContent: { result: 5 } });
    expect(legacyToolResult({ content: [], structuredContent: null }, { type: 'object' })).toEqual({ content: [], structuredContent: { result: null } });
  });

  it('leaves anything else as it is, the same object (so the child\'s bytes can still be written)', () => {
    for (const r of [{ content: [], structuredContent: { n: 1 } }, { content: [] }, { content: [], structuredContent: undefined }]) {
      expect(legacyToolResult(r, { type: 'object' })).toBe(r);
    }
    const noSchema = { content: [], structuredContent: { n: 1 } };
    expect(legacyToolResult(noSchema, undefined)).toBe(noSchema);
    expect(legacyToolResult('not a result', array)).toBe('not a result');
  });

  it('agrees with needsLegacyWrap about which schemas are wrapped', () => {
    expect(needsLegacyWrap({ outputSchema: array })).toBe(true);
    expect(needsLegacyWrap({ outputSchema: {} })).toBe(true); // a typeless root
    expect(needsLegacyWrap({ outputSchema: { type: 'object' } })).toBe(false);
    expect(needsLegacyWrap({})).toBe(false);
    expect(needsLegacyWrap({ outputSchema: [] })).toBe(false);
  });
});
