// The team setup end to end: two `mcpx serve --http` processes behind tokens sharing one
// redis-server (the test's own, on a free loopback port): 50 concurrent calls from 2025 HTTP sessions
// spread over both, with no error, and results one process fetched served to the other's clients.
import { createClient } from 'redis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { isRunning } from '../../src/util/proc.js';
import { cacheMeta, fixture, text, waitFor } from '../helpers/mcpx.js';
import { httpServers, type HttpMcpx } from '../helpers/http.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const { start } = httpServers(afterEach);
const TOKEN = 'team-token-4c2b7d9e1a';
let redis: RedisServer;
const clients: Client[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)));
});
afterAll(async () => {
  const pid = redis.pid()!;
  await redis.stop();
  expect(isRunning(pid)).toBe(false);
});

async function connect(s: HttpMcpx): Promise<Client> {
  const client = new Client({ name: 'teammate', version: '1.0.0' }, { capabilities: {} });
  await client.connect(new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers: { Authorization: `Bearer ${TOKEN}` } } }));
  clients.push(client);
  return client;
}

it('50 concurrent calls across two processes sharing Redis: 0 errors, and hits shared between them', async () => {
  const config = { http: { tokens: ['${TEAM_TOKEN}'] }, cache: { backend: 'redis', url: redis.url, lookupTimeoutMs: '1s' }, mcpServers: { a: fixture('alpha', {}, { cache: { ttl: '1h' } }) } };
  const servers = await Promise.all([start(config, { env: { TEAM_TOKEN: TOKEN } }), start(config, { env: { TEAM_TOKEN: TOKEN } })]);
  // Two sessions on each process.
  const sessions = await Promise.all([...servers, ...servers].map(connect));
  const results = await Promise.allSettled(
    Array.from({ length: 50 }, (_, i) => sessions[i % 4]!.callTool({ name: 'a__search', arguments: { query: `q${i % 10}` } })),
  );
  const failed = results.filter((r) => r.status === 'rejected' || (r.value as { isError?: boolean }).isError);
  expect(failed).toEqual([]);
  for (const [i, r] of results.entries()) expect(text((r as PromiseFulfilledResult<unknown>).value)).toContain(`alpha results for q${i % 10}`);

  // A query answered on the first process is a hit on the second: through Redis (once its write has
  // landed there: writes are not waited for).
  const [one, two] = [sessions[0]!, sessions[1]!];
  await one.callTool({ name: 'a__search', arguments: { query: 'shared' } });
  const admin = createClient({ url: redis.url });
  await admin.connect();
  try {
    await waitFor(async () => {
      const tools = await Promise.all((await admin.sMembers('mcpx:v1:server:a')).map((k) => admin.hGet(k, 'tool')));
      return tools.filter((t) => t === 'search').length >= 11; // q0 … q9 and "shared"
    }, 5000, 'the entries in Redis');
  } finally {
    admin.destroy();
  }
  const seen = await two.callTool({ name: 'a__search', arguments: { query: 'shared' } });
  expect(cacheMeta(seen)?.status).toBe('hit');
  expect(text(seen)).toContain('alpha results for shared');
});
