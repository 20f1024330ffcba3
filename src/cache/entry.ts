import { jsonOf } from '../util/raw-json.js';
import type { CachedEntry, PutEntry } from './store.js';

/**
 * What a put stores, the same for every backend: the result's JSON, its size, and its deadlines
 * (fresh until expiresAt, served as stale until staleUntil). Undefined when it is not cacheable: no
 * TTL at all, not JSON (cycles, BigInt), or over maxEntryBytes.
 */
export function storable(p: PutEntry, now: number, maxEntryBytes: number): { json: string; entry: Omit<CachedEntry, 'result'> } | undefined {
  if (!(p.ttlMs > 0) && !(p.staleTtlMs > 0)) return undefined;
  let json: string | undefined;
  try {
    json = jsonOf(p.result); // a child's own text when known (children/raw.ts): not serialised again
  } catch {
    return undefined;
  }
  if (json === undefined) return undefined;
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > maxEntryBytes) return undefined;
  const expiresAt = now + Math.max(0, p.ttlMs);
  return { json, entry: { key: p.key, server: p.server, tool: p.tool, storedAt: now, expiresAt, staleUntil: expiresAt + Math.max(0, p.staleTtlMs), bytes } };
}
