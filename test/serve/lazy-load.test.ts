// What a serve process loads: a stdio session in front of stdio children never loads the HTTP front
// end, the Redis client, the remote-child transport, the OAuth sign-in or the fallback's file search;
// each of them loads once a session needs it. Real processes; every module the mcpx process loads is
// recorded by a `node --import` hook (test/fixtures/record-modules.mjs).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, fixture, isRunning, mcpxSessions, tempDir, text, waitFor } from '../helpers/mcpx.js';
import { httpServers } from '../helpers/http.js';
import { redisWithAdmin, stopRedis, type RedisAdmin, type RedisServer } from '../helpers/redis.js';

const sessions = mcpxSessions(afterEach);
const http = httpServers(afterEach);
const RECORD = join(ROOT, 'test/fixtures/record-modules.mjs');

/** A file for the hook to write to, and the node options and environment that turn it on. */
function recorder() {
  const file = join(tempDir(), 'modules.txt');
  return { file, nodeArgs: ['--import', RECORD], env: { RECORD_MODULES_FILE: file }, loaded: () => readFileSync(file, 'utf8').split('\n') };
}

/** Whether a module of mcpx's own build (dist/<path>) or of a package (node_modules/<path>) was loaded. */
const has = (loaded: string[], path: string) => loaded.some((url) => url.includes(`/${path}`));

const HTTP_FRONT = ['dist/server/http.js', 'node_modules/@modelcontextprotocol/node/'];
const REDIS = ['dist/cache/redis.js', 'node_modules/redis/', 'node_modules/@redis/'];
const ONLY_WHEN_NEEDED = [
  ...HTTP_FRONT,
  ...REDIS,
  'dist/children/remote.js',
  'dist/children/helper.js',
  'dist/children/oauth/session.js',
  'dist/pipeline/backup.js',
];

describe('a stdio session in front of stdio children', () => {
  it('loads none of the HTTP front end, Redis, remote children, OAuth sign-in or backup search, before or after a call', async () => {
    const rec = recorder();
    const m = await sessions.start({ mcpServers: { a: fixture('a', {}, { cache: { ttl: '1h' } }) } }, { nodeArgs: rec.nodeArgs, env: rec.env });
    expect(text(await m.client.callTool({ name: 'a__echo', arguments: { text: 'hi' } }))).toBe('a: hi');
    await sessions.stop(m);
    await waitFor(() => !isRunning(m.pid), 5000, 'serve to exit');
    const loaded = rec.loaded();
    // The hook saw the session: the serve module and the SDK Client of the child's handshake.
    expect(has(loaded, 'dist/server/serve.js')).toBe(true);
    expect(has(loaded, 'node_modules/@modelcontextprotocol/client/')).toBe(true);
    expect(ONLY_WHEN_NEEDED.filter((path) => has(loaded, path))).toEqual([]);
  });
});

describe('what a session needs is loaded when it needs it', () => {
  it('serve --http loads the HTTP front end, and still not Redis', async () => {
    const rec = recorder();
    const s = await http.start({ mcpServers: { a: fixture('a') } }, { nodeArgs: rec.nodeArgs, env: rec.env });
    expect((await fetch(`${s.base}/healthz`)).status).toBe(200);
    const loaded = rec.loaded();
    expect(HTTP_FRONT.filter((path) => has(loaded, path))).toEqual(HTTP_FRONT);
    expect(REDIS.filter((path) => has(loaded, path))).toEqual([]);
  });

  describe('with the cache on Redis', () => {
    let redis: RedisServer;
    let admin: RedisAdmin;
    beforeAll(async () => ({ redis, admin } = await redisWithAdmin()));
    afterAll(() => stopRedis(redis, admin));

    it('a stdio session loads the Redis client, and not the HTTP front end', async () => {
      const rec = recorder();
      const config = { cache: { backend: 'redis', url: redis.url }, mcpServers: { a: fixture('a', {}, { cache: { ttl: '1h' } }) } };
      const m = await sessions.start(config, { nodeArgs: rec.nodeArgs, env: rec.env });
      expect(text(await m.client.callTool({ name: 'a__echo', arguments: { text: 'hi' } }))).toBe('a: hi');
      const loaded = rec.loaded();
      expect(has(loaded, 'dist/cache/redis.js') && has(loaded, 'node_modules/redis/')).toBe(true);
      expect(HTTP_FRONT.filter((path) => has(loaded, path))).toEqual([]);
    });
  });
});
