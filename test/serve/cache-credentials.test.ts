// A cached answer belongs to the credentials that produced it, as real processes: mcpx serve processes
// whose child inherits a different GITHUB_TOKEN share no answer on one cache directory or one Redis,
// identical tokens do, `cache.scope: "public"` shares across tokens; and on the team server a 2026
// child's private result is served to the caller it was fetched for only. No token is ever stored.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { cacheMeta, fixture, mcpxSessions, tempDir, text, waitFor, type Mcpx } from '../helpers/mcpx.js';
import { httpServers, type HttpMcpx } from '../helpers/http.js';
import { modern } from '../helpers/modern.js';
import { redisWithAdmin, stopRedis, type RedisAdmin, type RedisServer } from '../helpers/redis.js';

const { start, stop } = mcpxSessions(afterEach);
const TOKEN_A = 'ghp_alice0token0value0a1b2c3';
const TOKEN_B = 'ghp_bob00token0value0d4e5f6';

let redis: RedisServer;
let admin: RedisAdmin;
beforeAll(async () => ({ redis, admin } = await redisWithAdmin()));
afterAll(() => stopRedis(redis, admin));

type Backend = { name: string; cache: (dir: string) => { env: Record<string, string>; block: Record<string, unknown> } };
const sqlite: Backend = { name: 'one cache directory', cache: (dir) => ({ env: { MCPX_CACHE_DIR: dir }, block: {} }) };
// A lookup waits up to 1 s, not 50 ms: on a loaded machine a Redis round trip can take longer.
const onRedis: Backend = { name: 'one Redis', cache: () => ({ env: {}, block: { backend: 'redis', url: redis.url, lookupTimeoutMs: '1s' } }) };

/** A serve process whose child (a GitHub-like server reading its token from the environment) inherits `token`. */
async function serving(backend: Backend, dir: string, token: string, scope?: 'public'): Promise<Mcpx> {
  const { env, block } = backend.cache(dir);
  const m = await start(
    { cache: block, mcpServers: { gh: fixture('gh', {}, { cache: { ttl: '1h', ...(scope && { scope }) } }) } },
    { env: { ...env, GITHUB_TOKEN: token } },
  );
  await waitFor(async () => (await m.client.listTools()).tools.some((t) => t.name === 'gh__search'), 20_000, 'the child to be listed');
  return m;
}

const search = (m: Mcpx) => m.client.callTool({ name: 'gh__search', arguments: { query: 'my private repos' } });

/** What mcpx://status says of server gh's entries: "public" (shared by everyone) or "credential". */
async function scopeInStatus(m: Mcpx): Promise<unknown> {
  const r = await m.client.readResource({ uri: 'mcpx://status' });
  return (JSON.parse((r.contents[0] as { text: string }).text) as { servers: { gh: { cache: { scope: unknown } } } }).servers.gh.cache.scope;
}

/** Fetched by the first process, then stored for good: it has closed (SQLite), or Redis holds the entry. */
async function fetchedBy(backend: Backend, m: Mcpx): Promise<void> {
  expect(cacheMeta(await search(m))).toBeUndefined();
  if (backend === onRedis) await waitFor(async () => (await admin.sCard('mcpx:v1:server:gh')) > 0, 5000, 'the entry in Redis');
  await stop(m);
}

describe.each([sqlite, onRedis])('two processes on $name', (backend) => {
  afterEach(async () => {
    await admin.flushAll();
  });

  it('with different inherited tokens share no answer; with identical tokens they do', async () => {
    const cache = tempDir();
    await fetchedBy(backend, await serving(backend, cache, TOKEN_A));
    const [bob, alice] = await Promise.all([serving(backend, cache, TOKEN_B), serving(backend, cache, TOKEN_A)]);
    expect(cacheMeta(await search(bob))).toBeUndefined(); // B's identical call does not get A's answer
    expect(cacheMeta(await search(alice))).toMatchObject({ status: 'hit' });
    expect(await scopeInStatus(alice)).toBe('credential');
    expect(text(await search(alice))).toBe('gh results for my private repos (call 1)'); // what the first process's child answered

    // Nothing holds a token: neither the database nor Redis, keys or values.
    for (const f of readdirSync(cache)) expect(readFileSync(join(cache, f)).includes(TOKEN_A), f).toBe(false);
    const keys = await admin.keys('*');
    for (const k of keys) {
      expect(k).not.toContain(TOKEN_A);
      const type = await admin.type(k);
      const dump = type === 'hash' ? JSON.stringify(await admin.hGetAll(k)) : type === 'set' ? JSON.stringify(await admin.sMembers(k)) : String(await admin.get(k));
      expect(dump).not.toContain(TOKEN_A);
    }
  });

  it('"scope": "public" shares one answer between different tokens', async () => {
    const cache = tempDir();
    await fetchedBy(backend, await serving(backend, cache, TOKEN_A, 'public'));
    const bob = await serving(backend, cache, TOKEN_B, 'public');
    expect(cacheMeta(await search(bob))).toMatchObject({ status: 'hit' });
    expect(await scopeInStatus(bob)).toBe('public');
  });
});

describe('the key salt', () => {
  it('is one per cache: a 0600 file beside the database, or one value in the shared Redis', async () => {
    const cache = tempDir();
    await fetchedBy(sqlite, await serving(sqlite, cache, TOKEN_A));
    expect(readdirSync(cache)).toContain('key-salt');
    expect((await import('node:fs')).statSync(join(cache, 'key-salt')).mode & 0o777).toBe(0o600);
    await fetchedBy(onRedis, await serving(onRedis, tempDir(), TOKEN_A));
    expect(await admin.get('mcpx:v1:salt')).toMatch(/^[0-9a-f]{64}$/);
    await admin.flushAll();
  });
});

describe('a 2026 child\'s private result on the team server', () => {
  const { start: startHttp } = httpServers(afterEach);
  const clients: Client[] = [];
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
  });
  const connect = async (s: HttpMcpx, token: string) => {
    const client = new Client({ name: 'teammate', version: '1.0.0' }, { capabilities: {} });
    await client.connect(new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: { Authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return client;
  };
  const README = 'fixture://docs/readme';

  it('is kept per caller: served again to alice, never to bob (who gets his own, from the child)', async () => {
    const config = {
      http: { tokens: { alice: 'alice-team-token-1f2e3d', bob: 'bob-team-token-9c8b7a' } },
      mcpServers: { docs: modern('docs', {}, { env: { NAME: 'docs', CACHE_SCOPE: 'private' }, cache: { ttl: '1h', scope: 'public' } }) },
    };
    const s = await startHttp(config);
    const [alice, alice2, bob] = [await connect(s, 'alice-team-token-1f2e3d'), await connect(s, 'alice-team-token-1f2e3d'), await connect(s, 'bob-team-token-9c8b7a')];
    await waitFor(async () => (await alice.listResources()).resources.some((r) => r.uri === README), 20_000, 'the child to be listed');
    expect(cacheMeta(await alice.readResource({ uri: README }))).toBeUndefined();
    expect(cacheMeta(await alice2.readResource({ uri: README }))).toMatchObject({ status: 'hit' }); // alice's other session
    expect(cacheMeta(await bob.readResource({ uri: README }))).toBeUndefined();
    expect(cacheMeta(await bob.readResource({ uri: README }))).toMatchObject({ status: 'hit' }); // bob's own, now
  });
});
