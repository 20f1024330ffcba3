import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { McpxError } from '../errors.js';
import { Logger } from '../util/log.js';
import { cacheUsage, type CacheUsage } from './admin.js';
import { DB_FILE, openDatabase } from './db.js';
import { RedisResultStore } from './redis.js';
import { readStats, type ServerStats } from './stats.js';

/**
 * `mcpx cache clear|stats|prune` and doctor's check against the Redis backend, as plain data (the
 * commands render it). Each connects, does its one job and disconnects. An unreachable Redis is an
 * error naming the URL (never its credentials) for the commands, and a failed check for doctor.
 */
export interface RedisClearResult {
  backend: 'redis';
  url: string;
  removed: number;
  server?: string;
  tool?: string;
}

export interface RedisStatsResult extends CacheUsage {
  backend: 'redis';
  url: string;
  version?: string;
}

export interface RedisPruneResult {
  backend: 'redis';
  url: string;
  /** Index references to entries Redis had already expired (Redis deletes the entries themselves). */
  removed: number;
}

export interface RedisProbe {
  url: string;
  reachable: boolean;
  /** Best of three PING round trips. */
  latencyMs?: number;
  version?: string;
  entries?: number;
  error?: string;
}

const CONNECT_MS = 3000;

export async function clearRedisCache(url: string, filter: { server?: string; tool?: string }): Promise<RedisClearResult> {
  return withRedis(url, async (store) => ({ backend: 'redis', url: store.target, removed: await store.invalidate(filter), ...filter }));
}

/** Entries from Redis (shared), hits and misses from this host's database (each host counts its own). */
export async function redisCacheStats(url: string, dir: string): Promise<RedisStatsResult> {
  return withRedis(url, async (store) => ({
    backend: 'redis', url: store.target, version: await store.version(), ...cacheUsage(await store.stats(), localCounters(dir)),
  }));
}

export async function pruneRedisCache(url: string): Promise<RedisPruneResult> {
  return withRedis(url, async (store) => ({ backend: 'redis', url: store.target, removed: await store.prune() }));
}

/** Does Redis answer, and how fast: for doctor. Never throws. */
export async function probeRedis(url: string, connectMs = CONNECT_MS): Promise<RedisProbe> {
  const store = open(url);
  try {
    if (!(await store.connected(connectMs))) return { url: store.target, reachable: false, error: store.lastError ?? `no answer within ${connectMs} ms` };
    const pings: number[] = [];
    for (let i = 0; i < 3; i++) {
      const ms = await store.ping();
      if (ms !== undefined) pings.push(ms);
    }
    if (!pings.length) return { url: store.target, reachable: false, error: store.lastError ?? 'PING got no answer' };
    const latencyMs = Math.round(Math.min(...pings) * 100) / 100;
    return { url: store.target, reachable: true, latencyMs, version: await store.version(), entries: (await store.stats()).entries };
  } finally {
    await store.close();
  }
}

async function withRedis<T>(url: string, fn: (store: RedisResultStore) => Promise<T>): Promise<T> {
  const store = open(url);
  try {
    if (!(await store.connected(CONNECT_MS))) throw unreachable(store);
    const out = await fn(store);
    if (!store.reachable) throw unreachable(store); // it went away halfway: the answer would be partial
    return out;
  } finally {
    await store.close();
  }
}

/** A store for one command: no L1 to keep in step, and no warnings (the command reports instead). */
function open(url: string): RedisResultStore {
  return new RedisResultStore({ url, maxEntryBytes: Infinity, listen: false, log: new Logger('silent') });
}

function unreachable(store: RedisResultStore): McpxError {
  return new McpxError(`cannot reach Redis at ${store.target}: ${store.lastError ?? `no answer within ${CONNECT_MS / 1000} s`}`, {
    code: 'CACHE',
    suggestion: 'start Redis, or check cache.url / $MCPX_CACHE_URL (host, port and password)',
  });
}

function localCounters(dir: string): ServerStats[] {
  if (!existsSync(join(dir, DB_FILE))) return [];
  const cdb = openDatabase(dir);
  try {
    return readStats(cdb);
  } finally {
    cdb.close();
  }
}
