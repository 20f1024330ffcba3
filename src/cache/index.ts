export { openDatabase, DB_FILE, type CacheDb } from './db.js';
export { migrate, MIGRATIONS, SCHEMA_VERSION, userVersion, type Migration } from './migrations.js';
export { cacheKey, type KeyParts } from './key.js';
export { localSalt, SALT_FILE } from './salt.js';
export {
  SqliteResultStore, startMaintenance,
  type CachedEntry, type PutEntry, type Mark, type InvalidateFilter, type ResultStore, type ServerSummary, type StoreSummary, type SqliteStoreOptions,
} from './store.js';
export { SingleFlight } from './singleflight.js';
export { CatalogStore } from './catalog.js';
export { PinStore, type WaitingTool, type ToolDefinition } from './pins.js';
export { StatsRecorder, readStats, COUNTERS, LATENCY_BUCKETS_MS, type Counter, type ServerStats } from './stats.js';
export { clearCache, cacheStats, pruneCache, type ClearResult, type StatsResult, type PruneResult, type ServerCacheStats, type CacheLimits } from './admin.js';
