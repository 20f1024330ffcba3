import type { Command } from 'commander';
import type { CacheLimits, ClearResult, PruneResult, StatsResult } from '../../cache/admin.js';
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
      const { clearCache } = await import('../../cache/admin.js');
      const { dir, limits } = await cacheSettings(flags.config);
      print(flags, clearCache(dir, { server: flags.server, tool: flags.tool }, limits), renderClear);
    });

  cache
    .command('stats')
    .description('entries, bytes, oldest/newest, hits, stale hits and misses per server')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print the result as JSON')
    .action(async (flags: CacheFlags) => {
      const { cacheStats } = await import('../../cache/admin.js');
      const { dir } = await cacheSettings(flags.config);
      print(flags, cacheStats(dir), renderStats);
    });

  cache
    .command('prune')
    .description('drop entries past their stale time or over cache.maxMb, then compact the file')
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print the result as JSON')
    .action(async (flags: CacheFlags) => {
      const { pruneCache } = await import('../../cache/admin.js');
      const { dir, limits } = await cacheSettings(flags.config);
      print(flags, pruneCache(dir, limits), renderPrune);
    });

  return cache;
}

/** The configured cache dir; without any config file, the default one (so `cache clear` always works). */
async function cacheSettings(flag?: string): Promise<{ dir: string; limits?: CacheLimits }> {
  const { loadConfig } = await import('../../config/index.js');
  const { isMcpxError } = await import('../../errors.js');
  try {
    const { config } = loadConfig(flag);
    return { dir: config.cache.dir, limits: { maxMb: config.cache.maxMb, maxEntryBytes: config.cache.maxEntryBytes } };
  } catch (e) {
    // An explicit --config that is missing is a usage error; no config at all is fine here.
    if (!flag && !process.env.MCPX_CONFIG && isMcpxError(e) && e.code === 'CONFIG_NOT_FOUND') {
      const { defaultCacheDir } = await import('../../config/paths.js');
      return { dir: defaultCacheDir() };
    }
    throw e;
  }
}

function print<T>(flags: CacheFlags, result: T, render: (r: T) => string): void {
  process.stdout.write(flags.json ? JSON.stringify(result, null, 2) + '\n' : render(result));
}

function renderClear(r: ClearResult): string {
  const scope = [r.server && `server ${r.server}`, r.tool && `tool ${r.tool}`].filter(Boolean).join(', ');
  return `removed ${r.removed} ${r.removed === 1 ? 'entry' : 'entries'}${scope ? ` (${scope})` : ''} from ${r.file}\n`;
}

function renderPrune(r: PruneResult): string {
  const sizes = `${formatBytes(r.fileBytesBefore)} → ${formatBytes(r.fileBytesAfter)}`;
  const space = {
    vacuum: sizes,
    incremental: `${sizes} (freed pages released; serve is running, pid ${r.serving.join(', ')})`,
    none: r.serving.length ? `not compacted while serve runs (pid ${r.serving.join(', ')}); prune again when it is stopped` : sizes,
    busy: 'not compacted (busy; try again later)',
  }[r.compaction];
  return `removed ${r.removed} ${r.removed === 1 ? 'entry' : 'entries'}; ${r.file}: ${space}\n`;
}

function renderStats(r: StatsResult): string {
  if (!r.exists) return `no cache yet at ${r.file}\n`;
  const head = `${r.file}: ${r.entries} entries, ${formatBytes(r.bytes)} of results, ${formatBytes(r.fileBytes)} on disk` +
    (r.oldest ? `; oldest ${r.oldest}, newest ${r.newest}` : '') + '\n';
  if (!r.servers.length) return head;
  const rows = [
    ['server', 'entries', 'bytes', 'hits', 'stale', 'misses', 'hit rate', 'newest'],
    ...r.servers.map((s) => {
      const lookups = s.hits + s.staleHits + s.misses;
      return [s.server, String(s.entries), formatBytes(s.bytes), String(s.hits), String(s.staleHits), String(s.misses),
        lookups ? `${Math.round((100 * (s.hits + s.staleHits)) / lookups)}%` : '-', s.newest ?? '-'];
    }),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return head + rows.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

