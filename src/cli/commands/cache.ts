import type { Command } from 'commander';
import type { CacheLimits, CacheUsage, ClearResult, PruneResult, StatsResult } from '../../cache/admin.js';
import type { RedisClearResult, RedisPruneResult, RedisStatsResult } from '../../cache/redis-admin.js';
import { formatBytes } from '../../util/bytes.js';

/** `mcpx cache clear|stats|prune`: compute a plain object, then print it (--json) or render text. */
interface CacheFlags {
  config?: string;
  json?: boolean;
}

const CONFIG_HELP = 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)';

export function registerCache(program: Command): Command {
  const cache = program.command('cache').description('look at and clean the results cache (safe while serve runs)');

  cache
    .command('clear')
    .description('remove cached results (all, or one server / tool); running serve processes see it at once')
    .option('--server <name>', 'only this server')
    .option('--tool <name>', "only this tool (the child's own name)")
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print the result as JSON')
    .action(async (flags: CacheFlags & { server?: string; tool?: string }) => {
      const { dir, limits, url } = await cacheSettings(flags.config);
      const filter = { server: flags.server, tool: flags.tool };
      if (url) {
        const { clearRedisCache } = await import('../../cache/redis-admin.js');
        return print(flags, await clearRedisCache(url, filter), renderClear);
      }
      const { clearCache } = await import('../../cache/admin.js');
      print(flags, clearCache(dir, filter, limits), renderClear);
    });

  cache
    .command('stats')
    .description('entries, bytes, oldest/newest, hits, stale hits and misses per server')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print the result as JSON')
    .action(async (flags: CacheFlags) => {
      const { dir, url } = await cacheSettings(flags.config);
      if (url) {
        const { redisCacheStats } = await import('../../cache/redis-admin.js');
        return print(flags, await redisCacheStats(url, dir), renderStats);
      }
      const { cacheStats } = await import('../../cache/admin.js');
      print(flags, cacheStats(dir), renderStats);
    });

  cache
    .command('prune')
    .description('drop entries past their stale time or over cache.maxMb, then compact the file (Redis: forget expired index references)')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print the result as JSON')
    .action(async (flags: CacheFlags) => {
      const { dir, limits, url } = await cacheSettings(flags.config);
      if (url) {
        const { pruneRedisCache } = await import('../../cache/redis-admin.js');
        return print(flags, await pruneRedisCache(url), renderPrune);
      }
      const { pruneCache } = await import('../../cache/admin.js');
      print(flags, pruneCache(dir, limits), renderPrune);
    });

  return cache;
}

/**
 * The configured cache: its dir, and its Redis URL when results are on Redis. Without any config file,
 * the default dir (so `cache clear` always works), or $MCPX_CACHE_URL when set.
 */
async function cacheSettings(flag?: string): Promise<{ dir: string; limits?: CacheLimits; url?: string }> {
  const { loadConfig } = await import('../../config/index.js');
  const { isMcpxError } = await import('../../errors.js');
  try {
    const { config } = loadConfig(flag);
    const { dir, maxMb, maxEntryBytes, backend, url } = config.cache;
    return { dir, limits: { maxMb, maxEntryBytes }, url: backend === 'redis' ? url : undefined };
  } catch (e) {
    // An explicit --config that is missing is a usage error; no config at all is fine here.
    if (!flag && !process.env.MCPX_CONFIG && isMcpxError(e) && e.code === 'CONFIG_NOT_FOUND') {
      const { defaultCacheDir } = await import('../../config/paths.js');
      return { dir: defaultCacheDir(), url: process.env.MCPX_CACHE_URL || undefined };
    }
    throw e;
  }
}

function print<T>(flags: CacheFlags, result: T, render: (r: T) => string): void {
  process.stdout.write(flags.json ? JSON.stringify(result, null, 2) + '\n' : render(result));
}

function renderClear(r: ClearResult | RedisClearResult): string {
  const scope = [r.server && `server ${r.server}`, r.tool && `tool ${r.tool}`].filter(Boolean).join(', ');
  return `removed ${r.removed} ${r.removed === 1 ? 'entry' : 'entries'}${scope ? ` (${scope})` : ''} from ${'url' in r ? r.url : r.file}\n`;
}

function renderPrune(r: PruneResult | RedisPruneResult): string {
  if ('url' in r) return `forgot ${r.removed} index ${r.removed === 1 ? 'reference' : 'references'} to expired entries in ${r.url} (Redis expires the entries themselves)\n`;
  const sizes = `${formatBytes(r.fileBytesBefore)} → ${formatBytes(r.fileBytesAfter)}`;
  const space = {
    vacuum: sizes,
    incremental: `${sizes} (freed pages released; serve is running, pid ${r.serving.join(', ')})`,
    none: r.serving.length ? `not compacted while serve runs (pid ${r.serving.join(', ')}); prune again when it is stopped` : sizes,
    busy: 'not compacted (busy; try again later)',
  }[r.compaction];
  return `removed ${r.removed} ${r.removed === 1 ? 'entry' : 'entries'}; ${r.file}: ${space}\n`;
}

function renderStats(r: StatsResult | RedisStatsResult): string {
  const oldest = r.oldest ? `; oldest ${r.oldest}, newest ${r.newest}` : '';
  if ('url' in r) return `${r.url} (Redis${r.version ? ` ${r.version}` : ''}): ${r.entries} entries, ${formatBytes(r.bytes)} of results${oldest}\n` + table(r);
  if (!r.exists) return `no cache yet at ${r.file}\n`;
  return `${r.file}: ${r.entries} entries, ${formatBytes(r.bytes)} of results, ${formatBytes(r.fileBytes)} on disk${oldest}\n` + table(r);
}

function table(r: CacheUsage): string {
  if (!r.servers.length) return '';
  const rows = [
    ['server', 'entries', 'bytes', 'hits', 'stale', 'misses', 'hit rate', 'newest'],
    ...r.servers.map((s) => {
      const lookups = s.hits + s.staleHits + s.misses;
      return [s.server, String(s.entries), formatBytes(s.bytes), String(s.hits), String(s.staleHits), String(s.misses),
        lookups ? `${Math.round((100 * (s.hits + s.staleHits)) / lookups)}%` : '-', s.newest ?? '-'];
    }),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

