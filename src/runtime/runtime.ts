import type { Tool } from '@modelcontextprotocol/client';
import type { Child, Catalog, UpstreamBridge } from '../children/child.js';
import { loadExeca } from '../children/stdio.js';
import { Supervisor } from '../children/supervisor.js';
import type { Config, ServerConfig } from '../config/types.js';
import type { CacheDb, CatalogStore, PinStore, ResultStore, StatsRecorder } from '../cache/index.js';
import { errorMessage } from '../errors.js';
import { Pipeline, type Router } from '../pipeline/call.js';
import { buildPolicies, samePolicySettings, type ChildPolicies } from '../pipeline/policies.js';
import type { LiveChildren } from '../runtime/apply.js';
import { AuditLog, recordAudit } from '../telemetry/audit.js';
import { recordStats } from '../telemetry/stats.js';
import { StatusTracker } from '../telemetry/status.js';
import { log } from '../util/log.js';
import { Hub } from './hub.js';
import { ToolPins } from './pins.js';

/**
 * Everything one process needs to serve calls: children (supervised), routing, the pipeline with a
 * policy set per child, and the cache database, opened on first use so that `initialize` never waits
 * for it. `mcpx serve` builds one behind the upstream server; `mcpx tools` / `mcpx call` build one
 * with no upstream client.
 */
export interface Runtime {
  config: Config;
  hub: Hub;
  pipeline: Pipeline;
  policies: Map<Child, ChildPolicies>;
  supervisor: Supervisor;
  status: StatusTracker;
  /** The children as a config reload changes them (runtime/apply.ts). */
  live: LiveChildren;
  /** The cache database (opened now if not yet); undefined when it cannot be opened at all. */
  db(): CacheDb | undefined;
  /** The database, the stored catalogs, tool pins and listeners; starts no child (`mcpx call` starts only those it needs). */
  load(): Promise<void>;
  /** Lists known children from the stored catalog, then starts the eager children (once); resolves when each is up or down. */
  start(): Promise<void>;
  /** Starts if not yet; waits until no child without a known catalog is still starting. */
  settled(): Promise<void>;
  /** Stops the children and closes the cache; resolves with the names of children that had to be killed. */
  stop(): Promise<string[]>;
}

/** A bridge for processes with no upstream client: children are told no client capabilities. */
export const NO_UPSTREAM: UpstreamBridge = {
  capabilities: () => ({}),
  request: async (method) => {
    throw new Error(`${method} is not available: no MCP client is connected`);
  },
};

interface Storage {
  db: CacheDb;
  results: ResultStore;
  /** The salt of credential fingerprints in cache keys: the file beside the database, or the team's in Redis. */
  keySalt: () => Buffer | Promise<Buffer | undefined> | undefined;
  catalogs: CatalogStore;
  pins: PinStore;
  stats: StatsRecorder;
  audit: AuditLog;
  stop: () => Promise<void>;
}

export function createRuntime(config: Config, bridge: UpstreamBridge = NO_UPSTREAM, ownTools: Tool[] = []): Runtime {
  const hub = new Hub(config, bridge, ownTools);
  const supervisor = new Supervisor([]);
  supervisor.beforeRestart = async (child) => {
    if (child.authRejected) await reloadCredentials(config, child);
  };
  const policies = new Map<Child, ChildPolicies>();
  const setPolicies = (child: Child) => {
    const p = buildPolicies(child.config);
    p.breaker.on('state', (st) => st.kind === 'open' && open()?.stats.count(child.name, 'breaker_opens'));
    policies.set(child, p);
  };
  hub.forEachChild((child) => {
    setPolicies(child);
    supervisor.watch(child);
  });

  // The database: opened on first use (a list or a call), never on the way to answering initialize.
  let storage: Storage | undefined | null;
  const open = (): Storage | undefined => {
    if (storage !== undefined) return storage ?? undefined;
    if (!cacheModule) return undefined; // start() loads it first
    storage = null;
    try {
      storage = openStorage(config);
    } catch (e) {
      log.warn(`cache: not available (${errorMessage(e)}); serving without it`);
    }
    return storage ?? undefined;
  };

  const router: Router = {
    tool: (name) => hub.routing.toolRoutes.get(name),
    prompt: (name) => hub.routing.promptRoutes.get(name),
    resource: (uri) => hub.resourceChild(uri),
    settled: () => settled(),
  };
  const pipeline = new Pipeline({
    router,
    // A call routed just before its child was removed from the config still gets a policy set.
    policies: (child) => policies.get(child) ?? buildPolicies(child.config),
    store: () => open()?.results,
    keySalt: () => open()?.keySalt(),
    childWanted: (child) => supervisor.poke(child),
    reauthenticate: (child) => reloadCredentials(config, child).then(() => child.restart()),
  });

  // Before any child starts: the database, the stored catalogs (so lists answer at once), the listeners.
  const status = new StatusTracker(pipeline, hub.children, policies, supervisor, (c) => hub.waiting(c), config.waitingForTrust);
  let pinWatch: NodeJS.Timeout | undefined;
  let loaded: Promise<void> | undefined;
  let prepared: Promise<void> | undefined;
  let eager: Promise<void> = Promise.resolve();
  const load = () =>
    (loaded ??= (async () => {
      // All off the initialize path. execa starts loading now, for the children to spawn as soon as it is
      // there, but the stored lists do not wait for it (so the first tools/list comes sooner).
      void loadExeca().catch(() => undefined); // a failure shows where it is awaited: the child's start
      const [cache, redis] = await Promise.all([
        import('../cache/index.js'),
        config.cache.backend === 'redis' ? import('../cache/redis.js') : undefined, // ~200 ms: only when used
      ]);
      cacheModule ??= cache;
      redisModule ??= redis;
      const s = open();
      hub.pins = new ToolPins(() => open()?.pins);
      // An approval by `mcpx approve` (another process) reaches the client within a second.
      if (config.servers.some((c) => c.pinTools)) (pinWatch = setInterval(() => hub.recheckPins(), 1000)).unref();
      if (s) {
        recordStats(pipeline, s.stats);
        recordAudit(pipeline, s.audit);
      }
      hub.forEachChild((child) => {
        if (s) useStoredCatalog(child, s.catalogs);
        child.on('catalog', (cat: Catalog) => open()?.catalogs.put(child.config.catalogKey, child.name, cat));
        child.on('notification', (n) => {
          if (n.method === 'notifications/resources/updated' && typeof n.params?.uri === 'string') pipeline.resourceUpdated(child, n.params.uri);
        });
      });
      hub.rebuild();
    })());
  const prepare = () =>
    (prepared ??= load().then(() => {
      eager = hub.startInitial(); // in the background: lists and calls do not wait for it
    }));
  const start = async () => {
    await prepare();
    await eager;
  };
  const settled = async () => {
    await prepare();
    await hub.settled(Math.max(0, ...hub.children.map((c) => c.config.startupTimeoutMs)));
  };

  // What stop() waits for besides the children listed: a reload being applied, children being removed.
  let stopped = false;
  let applying: Promise<unknown> = Promise.resolve();
  const retiring = new Set<Promise<void>>();
  const live: LiveChildren = {
    children: hub.children,
    add: (server) => hub.add(server),
    remove: (child) => {
      hub.remove(child);
      supervisor.forget(child);
      policies.delete(child);
      const gone = child.retire().then(() => void child.removeAllListeners());
      retiring.add(gone);
      return gone.finally(() => retiring.delete(gone));
    },
    update: (child, server: ServerConfig) => {
      const before = child.config;
      child.reconfigure(server);
      if (!samePolicySettings(before, server)) setPolicies(child); // a new breaker, bulkhead, quota: the old state goes
    },
    restart: (child) => {
      supervisor.resetBudget(child);
      return child.restart();
    },
    order: (names) => hub.order(names),
    batch: (fn) => {
      if (stopped) return Promise.reject(new Error('mcpx is stopping: the config is not applied'));
      const batch = hub.batch(fn);
      applying = batch.catch(() => undefined);
      return batch;
    },
  };

  return {
    config,
    hub,
    pipeline,
    policies,
    supervisor,
    status,
    live,
    db: () => open()?.db,
    load,
    start,
    settled,
    stop: async () => {
      clearInterval(pinWatch);
      stopped = true;
      supervisor.stop();
      await applying; // its added children are listed before they are stopped
      const killed = await hub.stop();
      await Promise.all(retiring);
      if (storage) await storage.stop();
      return killed;
    },
  };
}

function openStorage(config: Config): Storage {
  // Loaded here rather than at the top: better-sqlite3 is not needed to answer initialize.
  const { openDatabase, SqliteResultStore, CatalogStore, PinStore, StatsRecorder, startMaintenance, localSalt } = cacheModule!;
  const db = openDatabase(config.cache.dir);
  const { backend, url, maxEntryBytes, maxMb, lookupTimeoutMs } = config.cache;
  // The result store the config names; the catalog, stats, status and audit stay in SQLite either way.
  const redis = backend === 'redis' ? new redisModule!.RedisResultStore({ url: url!, maxEntryBytes, lookupTimeoutMs, sweepEveryMs: 60_000 }) : undefined;
  const results: ResultStore = redis ?? new SqliteResultStore(db, { maxEntryBytes, maxMb });
  const salt = redis ? undefined : localSalt(config.cache.dir);
  const stats = new StatsRecorder(db);
  const stopMaintenance = backend === 'sqlite' ? startMaintenance(results) : () => {}; // Redis expires entries itself
  const audit = new AuditLog(db, config.audit);
  return {
    db,
    results,
    keySalt: redis ? () => redis.keySalt() : () => salt,
    catalogs: new CatalogStore(db),
    pins: new PinStore(db),
    stats,
    audit,
    stop: async () => {
      stopMaintenance();
      stats.close();
      audit.close();
      await results.close();
      db.close();
    },
  };
}

/**
 * Re-reads the config and its .env files for one child (a rotated token), so that its next connect
 * uses the new values; its credential fingerprint (part of every cache key) changes with them.
 */
export async function reloadCredentials(config: Config, child: Child): Promise<boolean> {
  const { reloadConfig } = await import('../config/index.js');
  try {
    // The same file, checked again: a project config edited since `mcpx trust` is not re-read.
    const fresh = reloadConfig(config).config.servers.find((s) => s.name === child.name);
    if (!fresh || fresh.credentialFingerprint === child.config.credentialFingerprint) return false;
    child.reconfigure(fresh);
    log.info(`${child.name}: credentials changed; reconnecting with the new ones`);
    return true;
  } catch (e) {
    log.warn(`${child.name}: could not re-read ${config.file}: ${errorMessage(e)}`);
    return false;
  }
}

/** A child we have seen before is listed at once from its stored catalog, before it is up. */
function useStoredCatalog(child: Child, catalogs: CatalogStore): void {
  if (child.catalog || child.state.kind === 'disabled' || child.state.kind === 'misconfigured') return;
  const stored = catalogs.get(child.config.catalogKey);
  if (stored) child.catalog = stored.data as Catalog;
}

/** Loaded by start(), off the initialize path: better-sqlite3 is not needed for the first answers. */
let cacheModule: typeof import('../cache/index.js') | undefined;
/** Loaded with it when the config puts results on Redis. */
let redisModule: typeof import('../cache/redis.js') | undefined;
