import { randomBytes, randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createClient, ErrorReply } from 'redis';
import { errorMessage } from '../errors.js';
import { log as defaultLog, type Logger } from '../util/log.js';
import { storable } from './entry.js';
import { KEPT_INVALIDATIONS, RecentInvalidations } from './invalidations.js';
import { MemoryLayer } from './memory.js';
import { freeze, type CachedEntry, type InvalidateFilter, type Mark, type PutEntry, type ResultStore, type ServerSummary, type StoreSummary } from './store.js';

/**
 * The result store on Redis, shared by every mcpx process given the same URL (a team server).
 *
 * Layout, schema v1 (a new layout gets a new prefix, so old and new processes never misread each other):
 *   mcpx:v1:<key>           a hash per entry: server, tool, storedAt, expiresAt (fresh until), staleUntil,
 *                           bytes, result (JSON). Its PX expiry is the stale deadline: Redis forgets it then.
 *                           <key> is the sha256 cache key, so no secret and no argument is ever in a key.
 *   mcpx:v1:server:<name>   the set of a server's entry keys, to drop them together (invalidateOnWrite).
 *   mcpx:v1:invalidate      the channel every drop is published on: each process drops it from its L1.
 *   mcpx:v1:generation      how many invalidations there have been (INCR), and
 *   mcpx:v1:invalidations   the last KEPT_INVALIDATIONS of them, a sorted set scored by that number
 *                           ("<n> <filter JSON>"): a put names the number its call was sent under and is
 *                           refused when a later one would drop it (a write landed during the read).
 *
 * Redis is never in the way of a call: hot entries come from this process's L1 synchronously, a lookup
 * waits at most lookupTimeoutMs (then it is a miss), writes are sent and not waited for, and while Redis
 * is unreachable the store is L1 alone, with one warning, reconnecting in the background.
 * The one longer wait is at start: every Claude Code session is a new process, and its first calls are
 * the ones a team's cache saves most. The store connects when it is made (serve makes it as it loads,
 * beside the children's start), and until that first connection is up, a lookup waits for it up to
 * FIRST_CONNECT_WAIT_MS after the store was made (refused attempts are retried meanwhile), then reads
 * within lookupTimeoutMs as usual. A lookup that missed only because Redis was not connected yet is said
 * once.
 */
export const PREFIX = 'mcpx:v1:';
export const INDEX_PREFIX = `${PREFIX}server:`;
export const CHANNEL = `${PREFIX}invalidate`;
export const GENERATION = `${PREFIX}generation`;
export const LOG = `${PREFIX}invalidations`;
const SWEEP_LOCK = `${PREFIX}sweep`;
/** The team's key salt (cache/salt.ts): made by the first process that asks, read by every other. */
export const SALT_KEY = `${PREFIX}salt`;
export const entryKey = (key: string): string => PREFIX + key;
/** How long after the store is made its lookups wait for the first connection (at least lookupTimeoutMs). */
export const FIRST_CONNECT_WAIT_MS = 1000;
export const serverIndex = (server: string): string => INDEX_PREFIX + server;

export interface RedisStoreOptions {
  url: string;
  maxEntryBytes: number;
  /** Budget of the in-memory L1 (default 32 MiB). */
  l1MaxBytes?: number;
  /** Longest a lookup waits on Redis before it counts as a miss (default 50 ms). */
  lookupTimeoutMs?: number;
  /** Until then after the store is made, a lookup waits for the first connection (default FIRST_CONNECT_WAIT_MS). */
  firstConnectWaitMs?: number;
  /** Listen for other processes' invalidations (serve does; a one-shot command has no L1 to keep). */
  listen?: boolean;
  /** Drop index references to expired entries this often, one process of the team at a time (serve). */
  sweepEveryMs?: number;
  log?: Logger;
}

// Each script is one command: ordered with this connection's other commands, atomic for every process.

/** Counts one more invalidation and records its filter; returns its number. */
const RECORD_FN = `
local function record(gen, log, filter)
  local n = redis.call('INCR', gen)
  redis.call('ZADD', log, n, n .. ' ' .. filter)
  if n > ${KEPT_INVALIDATIONS} then redis.call('ZREMRANGEBYSCORE', log, '-inf', n - ${KEPT_INVALIDATIONS}) end
  return n
end`;

/** KEYS: generation, log. ARGV[1] the filter JSON. Returns its number. */
const RECORD = `${RECORD_FN}
return record(KEYS[1], KEYS[2], ARGV[1])`;

/**
 * KEYS[1] entry, KEYS[2] its server's index, KEYS[3] generation, KEYS[4] log. ARGV[9]: the generation
 * the call was sent under ('' : unchecked), ARGV[10]: the bare key. Refused (0) when an invalidation
 * since then would drop this entry, or when that cannot be known (pruned from the log, Redis emptied).
 * Returns {stored, generation}.
 */
const PUT = `
local gen = tonumber(redis.call('GET', KEYS[3]) or '0')
if ARGV[9] ~= '' then
  local since = tonumber(ARGV[9])
  if gen < since then return {0, gen} end
  if gen > since then
    local recs = redis.call('ZRANGEBYSCORE', KEYS[4], since + 1, gen)
    if #recs < gen - since then return {0, gen} end
    for _, r in ipairs(recs) do
      local f = cjson.decode(string.sub(r, string.find(r, ' ', 1, true) + 1))
      if (f.key == nil or f.key == ARGV[10]) and (f.server == nil or f.server == ARGV[2]) and (f.tool == nil or f.tool == ARGV[3]) then return {0, gen} end
    end
  end
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'server', ARGV[2], 'tool', ARGV[3], 'storedAt', ARGV[4], 'expiresAt', ARGV[5],
  'staleUntil', ARGV[6], 'bytes', ARGV[7], 'result', ARGV[8])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
redis.call('SADD', KEYS[2], KEYS[1])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
return {1, gen}`;

/**
 * The message of an invalidation: ARGV's message (a JSON object) with its number put first. Recorded
 * before anything is deleted, so that a put checked after this command sees it.
 */
const PUBLISH_FN = `${RECORD_FN}
local function publish(channel, message, n)
  redis.call('PUBLISH', channel, '{"seq":' .. n .. ',' .. string.sub(message, 2))
end`;

/** KEYS[1] entry, KEYS[2] generation, KEYS[3] log; ARGV: server filter, tool filter, channel, message, index prefix, filter JSON. Returns {deleted, number}. */
const DROP_KEY = `${PUBLISH_FN}
local seq = record(KEYS[2], KEYS[3], ARGV[6])
local h = redis.call('HMGET', KEYS[1], 'server', 'tool')
local n = 0
if not ((ARGV[1] ~= '' and h[1] and h[1] ~= ARGV[1]) or (ARGV[2] ~= '' and h[2] and h[2] ~= ARGV[2])) then
  n = redis.call('DEL', KEYS[1])
  if h[1] then redis.call('SREM', ARGV[5] .. h[1], KEYS[1]) end
end
publish(ARGV[3], ARGV[4], seq)
return {n, seq}`;

/**
 * KEYS[1] a server's index, KEYS[2] generation, KEYS[3] log; ARGV: tool filter, channel, message, filter
 * JSON ('' : neither recorded nor published, a part of a drop of everything). Returns {deleted, number}.
 */
const DROP_SERVER = `${PUBLISH_FN}
local seq = 0
if ARGV[4] ~= '' then seq = record(KEYS[2], KEYS[3], ARGV[4]) end
local n = 0
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if ARGV[1] == '' or redis.call('HGET', k, 'tool') == ARGV[1] then
    n = n + redis.call('DEL', k)
    redis.call('SREM', KEYS[1], k)
  end
end
if ARGV[4] ~= '' then publish(ARGV[2], ARGV[3], seq) end
return {n, seq}`;

/** KEYS[1] a server's index: forget members Redis has expired; returns how many. */
const SWEEP = `
local n = 0
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', k) == 0 then n = n + redis.call('SREM', KEYS[1], k) end
end
return n`;

/** KEYS[1] a server's index: {entries, bytes, oldest storedAt, newest storedAt}. */
const SUMMARY = `
local n, bytes, lo, hi = 0, 0, 0, 0
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local h = redis.call('HMGET', k, 'storedAt', 'bytes')
  if h[1] then
    local at = tonumber(h[1])
    n = n + 1
    bytes = bytes + tonumber(h[2])
    if lo == 0 or at < lo then lo = at end
    if at > hi then hi = at end
  end
end
return {n, bytes, lo, hi}`;

/** KEYS[1] the salt; ARGV[1] a candidate (this process's, or new): set if there is none, then the one there is. */
const SALT = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])`;

export function createRedisClient(url: string) {
  return createClient({
    url,
    name: 'mcpx',
    RESP: 3,
    // While reconnecting, commands fail at once instead of queueing: a call never waits for a reconnect.
    disableOfflineQueue: true,
    commandsQueueMaxLength: 10_000,
    socket: {
      connectTimeout: 2000,
      // Always try again (the default gives up after a socket timeout), backing off to about 2 s.
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2000) + Math.floor(Math.random() * 100),
    },
  });
}
type Client = ReturnType<typeof createRedisClient>;

/** The URL as it may be shown: credentials replaced by ****. */
export function redisTarget(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.username || u.password ? '****@' : ''}${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(invalid Redis URL)';
  }
}

export class RedisResultStore implements ResultStore {
  /** The URL without credentials, for messages. */
  readonly target: string;
  /** The last connection error, in words. */
  lastError?: string;
  private readonly client: Client;
  private readonly sub?: Client;
  private readonly l1: MemoryLayer;
  /** Invalidations this process made or heard of, with when: checked by put() for L1 (Redis checks its own log). */
  private readonly recent = new RecentInvalidations();
  /** The number of the last invalidation known here (never ahead of Redis's); undefined until read once. */
  private seenGeneration?: number;
  private readonly log: Logger;
  private readonly lookupMs: number;
  /** Marks our own messages on the channel: our L1 already dropped what they say. */
  private readonly id = randomUUID();
  /** Connections not ready; an outage is warned about once, when the first one breaks. */
  private readonly broken = new Set<Client>();
  private outage = false;
  /** The first connection has been up: from then on a lookup never waits for one. */
  private connectedOnce = false;
  private readonly firstConnectWaitMs: number;
  /** Until then (performance.now()), with no connection yet, a lookup waits for the first one. */
  private readonly firstConnectBy: number;
  private saidNotReady = false;
  private subscribed = false;
  /** Invalidations Redis could not be told about: sent when it is back. */
  private pending: InvalidateFilter[] = [];
  private readonly warned = new Set<string>();
  private readonly changed = new EventEmitter();
  private readonly sweeper?: NodeJS.Timeout;
  private closed = false;
  /** The team's key salt, once Redis gave it. */
  private salt?: Buffer;
  /** Used while Redis is down and never gave one: for this process's memory layer only. */
  private ownSalt?: Buffer;
  private saltLoading = false;

  constructor(private readonly opts: RedisStoreOptions) {
    this.target = redisTarget(opts.url);
    this.log = opts.log ?? defaultLog;
    this.lookupMs = opts.lookupTimeoutMs ?? 50;
    this.firstConnectWaitMs = Math.max(opts.firstConnectWaitMs ?? FIRST_CONNECT_WAIT_MS, this.lookupMs);
    this.firstConnectBy = performance.now() + this.firstConnectWaitMs;
    this.l1 = new MemoryLayer(opts.l1MaxBytes);
    this.client = this.connect(createRedisClient(opts.url), () => {
      this.readGeneration();
      this.sendPending();
      this.loadSalt();
    });
    if (opts.listen !== false) {
      // After a reconnect, what was published meanwhile is lost: forget what L1 holds.
      const sub = (this.sub = this.connect(this.client.duplicate(), () => this.subscribed && this.l1.clear()));
      sub.on('ready', () => {
        if (this.subscribed) return;
        sub.subscribe(CHANNEL, (m) => this.onMessage(m)).then(() => {
          this.subscribed = true;
          this.changed.emit('change');
        }, (e) => this.failed('listen for invalidations', e));
      });
    }
    if (opts.sweepEveryMs) {
      this.sweeper = setInterval(() => void this.sweep(opts.sweepEveryMs!), opts.sweepEveryMs);
      this.sweeper.unref();
    }
  }

  /** True while the connection for commands is up. */
  get reachable(): boolean {
    return this.client.isReady;
  }

  /** Resolves true once Redis answers (and we listen for invalidations, unless told not to wait for that); false after timeoutMs. */
  connected(timeoutMs = 3000, listening = true): Promise<boolean> {
    return this.until(() => this.client.isReady && this.seenGeneration !== undefined && (!listening || !this.sub || this.subscribed), timeoutMs);
  }

  /**
   * The team's key salt: at once when known. Before the first connection, a lookup waits for it as it
   * waits for an entry (until firstConnectBy, then one round trip); undefined if it did not come, or if
   * Redis could not give it. While Redis is unreachable and never gave one, a salt of this process's own:
   * its memory layer still serves, and since writes are dropped meanwhile, no key made with it reaches Redis.
   */
  keySalt(): Buffer | Promise<Buffer | undefined> | undefined {
    if (this.salt || this.closed) return this.salt;
    if (this.client.isReady) return this.saltLoading ? this.until(() => !this.saltLoading, this.lookupMs).then(() => this.salt) : undefined;
    const wait = this.connectedOnce ? 0 : this.firstConnectBy - performance.now();
    if (wait <= 0) {
      this.notReady();
      return (this.ownSalt ??= randomBytes(32));
    }
    return this.until(() => !!this.salt, wait + this.lookupMs).then(() => this.salt ?? this.notReady());
  }

  /** Asks Redis for the salt after each (re)connect: a Redis that lost it gets this process's back, and every process adopts the one Redis holds. */
  private loadSalt(): void {
    const candidate = (this.salt ?? randomBytes(32)).toString('hex');
    this.saltLoading = true;
    void this.client
      .eval(SALT, { keys: [SALT_KEY], arguments: [candidate] })
      .then((v) => {
        if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) throw new Error(`${SALT_KEY} is not 64 hex digits: delete it, and a new one is made`);
        this.salt = Buffer.from(v, 'hex');
      })
      .catch((e) => this.failed('read the key salt (results are not cached meanwhile)', e))
      .finally(() => {
        this.saltLoading = false;
        this.changed.emit('change');
      });
  }

  /** Resolves true once ok() holds (checked at each change of the connection), false after timeoutMs. */
  private until(ok: () => boolean, timeoutMs: number): Promise<boolean> {
    if (ok()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (v: boolean) => {
        clearTimeout(timer);
        this.changed.off('change', check);
        resolve(v);
      };
      const check = () => ok() && done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      timer.unref();
      this.changed.on('change', check);
    });
  }

  get(key: string, now = Date.now()): CachedEntry | undefined | Promise<CachedEntry | undefined> {
    const near = this.freshInL1(key, now);
    if (near) return near;
    const far = this.fetch(key, now);
    // Not in Redis (or no answer in time): an identical call of this process may have stored it while the
    // lookup was out, after this one had looked at L1 (its put reaches Redis later). Look at L1 again.
    return far?.then((e) => (e && now < e.expiresAt ? e : this.freshInL1(key, now)));
  }

  private freshInL1(key: string, now: number): CachedEntry | undefined {
    const e = this.l1.get(key, now);
    return e && now < e.expiresAt ? e : undefined;
  }

  getStale(key: string, now = Date.now()): CachedEntry | undefined | Promise<CachedEntry | undefined> {
    return this.l1.get(key, now) ?? this.fetch(key, now);
  }

  mark(): Mark {
    return { at: Date.now(), seq: this.seenGeneration };
  }

  put(p: PutEntry, now = Date.now()): boolean {
    // An invalidation this process made or heard of since the call began: its answer may predate a write.
    if (p.since && this.recent.droppedSince(p.since.at, p)) return false;
    const s = this.closed ? undefined : storable(p, now, this.opts.maxEntryBytes);
    if (!s) return false;
    const { json, entry: e } = s;
    // L1 gets its own parsed copy: the caller keeps (and may change) the object it passed in.
    this.l1.set(freeze({ ...e, result: JSON.parse(json) }));
    // Sent under a generation Redis can check, or (none known yet) kept in this process's memory only.
    if (p.since && p.since.seq === undefined) return true;
    const since = p.since?.seq;
    const args = [String(e.staleUntil - now), e.server, e.tool, String(now), String(e.expiresAt), String(e.staleUntil), String(e.bytes), json, since === undefined ? '' : String(since), p.key];
    this.send('store a result', async () => {
      const [stored, generation] = (await this.client.eval(PUT, { keys: [entryKey(p.key), serverIndex(p.server), GENERATION, LOG], arguments: args })) as number[];
      // Redis's count below ours: it was emptied (or flushed) since; what it says now is the truth.
      if (since !== undefined && generation! < since) this.seenGeneration = generation;
      else this.sawGeneration(generation!);
      if (!stored) this.l1.drop({ key: p.key }); // another process's write landed during the call
    });
    return true;
  }

  invalidate(f: InvalidateFilter): number | Promise<number> {
    this.l1.drop(f);
    this.recent.note(f, Date.now());
    if (this.closed) return 0;
    if (!this.client.isReady) return this.remember(f);
    return this.drop(f).catch((e) => {
      this.failed('drop entries', e);
      return this.remember(f);
    });
  }

  /** Forgets index references to entries Redis has expired (Redis deletes the entries themselves). */
  async prune(): Promise<number> {
    let n = 0;
    try {
      for (const index of await this.indexes()) n += Number(await this.client.eval(SWEEP, { keys: [index], arguments: [] }));
    } catch (e) {
      this.failed('prune', e);
    }
    return n;
  }

  async stats(): Promise<StoreSummary> {
    const servers: ServerSummary[] = [];
    try {
      for (const index of await this.indexes()) {
        const [entries, bytes, oldestStoredAt, newestStoredAt] = (await this.client.eval(SUMMARY, { keys: [index], arguments: [] })) as number[];
        if (entries) servers.push({ server: index.slice(INDEX_PREFIX.length), entries, bytes: bytes!, oldestStoredAt: oldestStoredAt!, newestStoredAt: newestStoredAt! });
      }
    } catch (e) {
      this.failed('read cache stats', e);
    }
    servers.sort((a, b) => (a.server < b.server ? -1 : 1));
    return { entries: servers.reduce((n, s) => n + s.entries, 0), bytes: servers.reduce((n, s) => n + s.bytes, 0), servers };
  }

  /** Round trip of a PING in ms, or undefined when Redis does not answer. */
  async ping(): Promise<number | undefined> {
    if (!this.client.isReady) return undefined;
    const t0 = performance.now();
    try {
      await this.client.ping();
      return performance.now() - t0;
    } catch {
      return undefined;
    }
  }

  /** The server's version (INFO server). */
  async version(): Promise<string | undefined> {
    try {
      return /redis_version:(\S+)/.exec(String(await this.client.info('server')))?.[1];
    } catch {
      return undefined;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    this.l1.clear();
    // Writes already sent get a moment to land (a one-shot `mcpx call`), then the sockets go.
    const conns = [this.client, this.sub].filter((c): c is Client => !!c);
    await Promise.race([Promise.allSettled(conns.map((c) => c.close())), new Promise((r) => setTimeout(r, 500).unref())]);
    for (const c of conns) c.destroy();
  }

  // ---- the connection ---------------------------------------------------------------------------

  private connect(c: Client, onReady: () => void): Client {
    this.broken.add(c);
    c.on('error', (e) => this.unreachable(c, e));
    c.on('ready', () => {
      if (c === this.client) this.connectedOnce = true;
      this.broken.delete(c);
      if (this.outage && this.broken.size === 0) {
        this.outage = false;
        this.log.info(`cache: Redis at ${this.target} answers again; results are shared again`);
      }
      onReady();
      this.changed.emit('change');
    });
    c.connect().catch(() => {}); // settles only when closed first: failures arrive as 'error' events
    return c;
  }

  private unreachable(c: Client, e: unknown): void {
    this.lastError = errorMessage(e);
    this.broken.add(c);
    if (this.closed || this.outage) return;
    this.outage = true;
    this.log.warn(`cache: Redis at ${this.target} is not answering (${this.lastError}); serving from memory and the servers, reconnecting in the background`);
  }

  /** A command failed: a reply of Redis (out of memory, a script error) is warned about once per kind. */
  private failed(what: string, e: unknown): void {
    if (this.closed) return;
    if (!(e instanceof ErrorReply) && !this.client.isReady) return; // the connection went: its 'error' event says so
    const id = `${what}:${errorMessage(e).split(' ')[0]}`;
    if (this.warned.has(id)) return;
    this.warned.add(id);
    this.log.warn(`cache: Redis at ${this.target} could not ${what} (${errorMessage(e)}); carrying on without it`);
  }

  // ---- reads ------------------------------------------------------------------------------------

  /** A write, not waited for; held (up to 5 s) until the first connection is made, dropped while Redis is down. */
  private send(what: string, command: () => Promise<unknown>): void {
    const run = () => void command().catch((e) => this.failed(what, e));
    if (this.client.isReady) run();
    else if (!this.connectedOnce) void this.connected(5000, false).then((up) => up && !this.closed && run());
  }

  /**
   * From Redis, within lookupMs; undefined at once when Redis is down. Before the first connection is up,
   * it is waited for until firstConnectBy, then read within lookupMs.
   */
  private fetch(key: string, now: number): Promise<CachedEntry | undefined> | undefined {
    if (this.closed) return undefined;
    if (this.client.isReady) return this.readWithin(key, now);
    const wait = this.connectedOnce ? 0 : this.firstConnectBy - performance.now();
    if (wait <= 0) return this.notReady();
    return this.connected(wait, false).then((up) => (up && !this.closed ? this.readWithin(key, now) : this.notReady()));
  }

  private readWithin(key: string, now: number): Promise<CachedEntry | undefined> {
    return within(this.read(key, now), this.lookupMs, () => this.failed(`answer within ${this.lookupMs} ms`, new Error('a lookup counted as a miss')));
  }

  /** A miss because the first connection is not up (yet): said once, unless an outage warning already said why. */
  private notReady(): undefined {
    if (this.connectedOnce || this.outage || this.saidNotReady || this.closed) return undefined;
    this.saidNotReady = true;
    this.log.warn(`cache: Redis at ${this.target} was not connected yet: a lookup counted as a miss (lookups wait for the first connection up to ${this.firstConnectWaitMs} ms after start)`);
    return undefined;
  }

  private read(key: string, now: number): Promise<CachedEntry | undefined> {
    const generation = this.l1.generation;
    return this.client.hGetAll(entryKey(key)).then(
      (h) => {
        const e = fromHash(key, h as Record<string, string>);
        if (!e || now >= e.staleUntil) return undefined;
        // A drop seen meanwhile may have been for this very entry: serve it, but do not keep it.
        if (generation === this.l1.generation) this.l1.set(e);
        return e;
      },
      (e) => {
        this.failed('read the cache', e);
        return undefined;
      },
    );
  }

  // ---- invalidation -----------------------------------------------------------------------------

  /** Deletes in Redis and publishes, in one command for a key or a server (ordered before later reads). */
  private async drop(f: InvalidateFilter): Promise<number> {
    const filter = JSON.stringify(f);
    const message = JSON.stringify({ from: this.id, filter: f });
    const counted = (reply: unknown): number => {
      const [n, seq] = reply as number[];
      this.sawGeneration(seq!);
      return n!;
    };
    if (f.key !== undefined) {
      return counted(await this.client.eval(DROP_KEY, { keys: [entryKey(f.key), GENERATION, LOG], arguments: [f.server ?? '', f.tool ?? '', CHANNEL, message, INDEX_PREFIX, filter] }));
    }
    if (f.server !== undefined) {
      return counted(await this.client.eval(DROP_SERVER, { keys: [serverIndex(f.server), GENERATION, LOG], arguments: [f.tool ?? '', CHANNEL, message, filter] }));
    }
    // Every server: recorded first (a put checked from now on is refused), then each index, then one message.
    const seq = Number(await this.client.eval(RECORD, { keys: [GENERATION, LOG], arguments: [filter] }));
    this.sawGeneration(seq);
    let n = 0;
    for (const index of await this.indexes()) n += counted(await this.client.eval(DROP_SERVER, { keys: [index, GENERATION, LOG], arguments: [f.tool ?? '', CHANNEL, '', ''] }));
    await this.client.publish(CHANNEL, JSON.stringify({ seq, from: this.id, filter: f }));
    return n;
  }

  private onMessage(raw: string): void {
    try {
      const m = JSON.parse(raw) as { seq?: number; from?: string; filter?: InvalidateFilter };
      if (typeof m.seq === 'number') this.sawGeneration(m.seq);
      if (m.from !== this.id && m.filter && typeof m.filter === 'object') {
        this.l1.drop(m.filter);
        this.recent.note(m.filter, Date.now());
      }
    } catch {
      // not ours to understand
    }
  }

  /** A number of an invalidation Redis has recorded: the count known here only moves forward. */
  private sawGeneration(seq: number): void {
    if (seq > 0 && (this.seenGeneration === undefined || seq > this.seenGeneration)) this.seenGeneration = seq;
  }

  /** On every (re)connection: what Redis counts now (after a reconnect, messages may have been missed). */
  private readGeneration(): void {
    this.client.get(GENERATION).then((v) => {
      this.seenGeneration = Number(v ?? 0);
      this.changed.emit('change');
    }, (e) => this.failed('read the invalidation count', e));
  }

  /** Keeps an invalidation for when Redis is back; too many collapse into "everything". */
  private remember(f: InvalidateFilter): number {
    this.pending.push(f);
    if (this.pending.length > 1000) this.pending = [{}];
    return 0;
  }

  private sendPending(): void {
    for (const f of this.pending.splice(0)) void this.invalidate(f);
  }

  // ---- upkeep -----------------------------------------------------------------------------------

  private async indexes(): Promise<string[]> {
    const out: string[] = [];
    for await (const keys of this.client.scanIterator({ MATCH: `${INDEX_PREFIX}*`, COUNT: 500 })) out.push(...keys);
    return [...new Set(out)];
  }

  /** One process of the team sweeps per interval: whoever takes the lock first. */
  private async sweep(everyMs: number): Promise<void> {
    if (!this.client.isReady) return;
    try {
      if ((await this.client.set(SWEEP_LOCK, this.id, { NX: true, PX: everyMs })) === 'OK') await this.prune();
    } catch (e) {
      this.failed('prune', e);
    }
  }
}

function fromHash(key: string, h: Record<string, string> | undefined): CachedEntry | undefined {
  if (!h || h.result === undefined) return undefined;
  try {
    return freeze({
      key, server: h.server ?? '', tool: h.tool ?? '', result: JSON.parse(h.result),
      storedAt: Number(h.storedAt), expiresAt: Number(h.expiresAt), staleUntil: Number(h.staleUntil), bytes: Number(h.bytes),
    });
  } catch {
    return undefined; // not JSON: not something we wrote
  }
}

/**
 * The promise's value, or undefined after ms. The timer's verdict waits one more turn of the event
 * loop, so that a reply which arrived while the loop was busy still wins over the timer.
 */
function within<T>(p: Promise<T>, ms: number, onLate: () => void): Promise<T | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const timer = setTimeout(() => setImmediate(() => {
      if (settled) return;
      settled = true;
      onLate();
      resolve(undefined);
    }), ms);
    timer.unref();
    void p.then((v) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      resolve(v);
    });
  });
}
