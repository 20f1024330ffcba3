import { SERVER_INFO_META_KEY } from '@modelcontextprotocol/client';

/** What a modern child advised about caching one of its results (2026-07-28 `ttlMs`/`cacheScope`). */
export interface CacheAdvice {
  ttlMs?: number;
  cacheScope?: 'public' | 'private';
}

const advice = new WeakMap<object, CacheAdvice>();

/** The advice a modern child gave with this result (taken out of it by liftCacheAdvice), if any. */
export function cacheAdvice(result: object): CacheAdvice | undefined {
  return advice.get(result);
}

/**
 * A modern child's result, made the one shape the pipeline knows: `ttlMs`/`cacheScope` move out of it
 * (kept as advice, see cacheAdvice), and `_meta["io.modelcontextprotocol/serverInfo"]` goes, because
 * the upstream edge would otherwise pass the child's identity off as mcpx's. Everything else stays as
 * the child sent it. The result object is changed in place (it is ours: the SDK decoded it for us).
 */
export function liftCacheAdvice(result: Record<string, unknown>): Record<string, unknown> {
  const { ttlMs, cacheScope } = result;
  const found: CacheAdvice = {
    ...(typeof ttlMs === 'number' && ttlMs >= 0 && { ttlMs }),
    ...((cacheScope === 'public' || cacheScope === 'private') && { cacheScope }),
  };
  delete result.ttlMs;
  delete result.cacheScope;
  const meta = result._meta as Record<string, unknown> | undefined;
  if (meta && typeof meta === 'object' && SERVER_INFO_META_KEY in meta) {
    delete meta[SERVER_INFO_META_KEY];
    if (!Object.keys(meta).length) delete result._meta; // only the SDK's stamp was there
  }
  if (Object.keys(found).length) advice.set(result, found);
  return result;
}
