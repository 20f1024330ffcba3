// `mcpx serve --http` as real processes: bearer tokens, the non-loopback refusal, Origin,
// sessions kept apart (elicitation and progress reach the session that called), a 2026-07-28 client,
// /healthz and /metrics, the stop on SIGTERM. Each server listens on a free port (--port 0).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { fixture, marker, processesWith, runCli, text, waitFor } from '../helpers/mcpx.js';
import { clientsClosedAfterEach, httpServers, spawnHttp, type HttpMcpx } from '../helpers/http.js';
import { expectModernHost } from '../helpers/modern.js';

const { start } = httpServers(afterEach);
const ALICE = 'alice-token-8d1f0c2e9b';
const BOB = 'bob-token-5a7e31c4f0';
const clients = clientsClosedAfterEach(afterEach);

/** A 2025-era SDK client (1.x) on its own session, with this token. */
async function connect(s: HttpMcpx, token: string | undefined, capabilities: Record<string, unknown> = {}): Promise<Client> {
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const client = new Client({ name: 'team', version: '1.0.0' }, { capabilities });
  await client.connect(new StreamableHTTPClientTransport(new URL(s.url), { requestInit: { headers } }));
  clients.push(client);
  return client;
}

const withTokens = (mark?: string) => ({
  http: { tokens: { alice: '${ALICE_TOKEN}', bob: BOB } },
  mcpServers: { a: fixture('alpha', {}, {}, mark) },
});
const env = { ALICE_TOKEN: ALICE };

const post = (s: HttpMcpx, headers: Record<string, string>) =>
  fetch(s.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'curl', version: '1' } } }),
  });

describe('bearer tokens', () => {
  it('refuses a missing or wrong token with 401 and WWW-Authenticate, serves the right one, records its name, and never shows a token', async () => {
    const s = await start(withTokens(), { env });
    const missing = await post(s, {});
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="mcpx"');
    expect(await missing.json()).toMatchObject({ error: 'unauthorized' });
    const wrong = await post(s, { authorization: `Bearer ${ALICE}x` });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer realm="mcpx", error="invalid_token"/);
    expect((await post(s, { authorization: `Bearer ${ALICE}` })).status).toBe(200);
    await expect(connect(s, 'nope')).rejects.toThrow(/invalid_token/);

    const alice = await connect(s, ALICE);
    expect(text(await alice.callTool({ name: 'a__echo', arguments: { text: 'hi' } }))).toBe('alpha: hi');
    const bob = await connect(s, BOB);
    expect(text(await bob.callTool({ name: 'a__echo', arguments: { text: 'yo' } }))).toBe('alpha: yo');

    // The audit trail names who called (the token's name), read as the user would.
    const audit = async () => {
      const r = await runCli(['audit', '--json', '--config', s.configFile], { env: { MCPX_CACHE_DIR: join(s.dir, 'cache'), MCPX_STATE_DIR: join(s.dir, 'state') } }); // ALICE_TOKEN unset: not needed but by serve --http
      return (JSON.parse(r.stdout) as { records: { name: string; caller: string | null }[] }).records;
    };
    const records = await waitFor(async () => ((await audit()).length >= 2 ? audit() : undefined), 10_000, 'two audit records');
    expect(records.map((r) => [r.name, r.caller]).sort()).toEqual([['echo', 'alice'], ['echo', 'bob']]);

    s.proc.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
    const logged = s.stderr() + readFileSync(join(s.dir, 'state', 'mcpx.log'), 'utf8');
    expect(logged).toContain('(2 tokens)');
    for (const t of [ALICE, BOB]) expect(logged).not.toContain(t);
  });

  it('refuses to listen off loopback without a token: exit 2, naming the file and http.tokens', async () => {
    const s = spawnHttp({ mcpServers: { a: fixture('alpha') } }, { args: ['--host', '0.0.0.0'] });
    const { code } = await s.exited;
    expect(code).toBe(2);
    expect(s.stderr()).toContain('a token is required to listen on 0.0.0.0');
    expect(s.stderr()).toContain(`"http.tokens" in ${s.configFile}`);
  });

  it('refuses a foreign Origin with 403 (DNS rebinding), and lets a loopback one through', async () => {
    const s = await start(withTokens(), { env });
    const auth = { authorization: `Bearer ${ALICE}` };
    expect((await post(s, { ...auth, origin: 'https://evil.example' })).status).toBe(403);
    expect((await post(s, { ...auth, origin: 'http://localhost:3000' })).status).toBe(200);
  });
});

describe('sessions', () => {
  it('keeps two concurrent 2025 sessions apart: the elicitation reaches the one that asked, the progress the one that called', async () => {
    const s = await start(withTokens(), { env });
    const a = await connect(s, ALICE, { elicitation: {} });
    const b = await connect(s, BOB, { elicitation: {} });
    const asked: string[] = [];
    let release!: () => void;
    const answered = new Promise<void>((r) => (release = r));
    a.setRequestHandler(ElicitRequestSchema, async () => {
      asked.push('a');
      await answered; // B's call runs while A's question is open
      return { action: 'accept', content: { name: 'Ada' } };
    });
    b.setRequestHandler(ElicitRequestSchema, async () => {
      asked.push('b');
      return { action: 'decline' };
    });
    const progressA: Progress[] = [];
    const progressB: Progress[] = [];
    const askA = a.callTool({ name: 'a__ask', arguments: {} }, undefined, { onprogress: (p) => progressA.push(p) });
    await waitFor(() => asked.length === 1, 10_000, 'the elicitation');
    const slowB = await b.callTool({ name: 'a__slow', arguments: { ms: 200, steps: 4 } }, undefined, { onprogress: (p) => progressB.push(p) });
    release();
    expect(text(await askA)).toBe('alpha: accept {"name":"Ada"}');
    expect(text(slowB)).toContain('slow done');
    expect(asked).toEqual(['a']);
    expect(progressB.map((p) => p.progress)).toEqual([1, 2, 3, 4]);
    expect(progressA).toEqual([]);
  });

  it('closing a session (DELETE) cancels its call in flight at the child', async () => {
    const s = await start(withTokens(), { env });
    const a = await connect(s, ALICE);
    const b = await connect(s, BOB);
    const before = Number(text(await b.callTool({ name: 'a__cancelled', arguments: {} })));
    const transport = a.transport as StreamableHTTPClientTransport;
    // Its first progress says the call is at the child.
    let progressed = false;
    void a.callTool({ name: 'a__slow', arguments: { ms: 30_000, steps: 300 } }, undefined, { onprogress: () => (progressed = true) }).catch(() => undefined);
    await waitFor(() => progressed, 10_000, 'the call to reach the child');
    await transport.terminateSession();
    await waitFor(async () => Number(text(await b.callTool({ name: 'a__cancelled', arguments: {} }))) > before, 10_000, 'the child to see the cancel');
  });
});

describe('a 2026-07-28 client', () => {
  it('discovers, lists and calls through /mcp, answering an elicitation as input_required', async () => {
    const { Client: V2Client } = await import('@modelcontextprotocol/client');
    const { StreamableHTTPClientTransport: V2Transport } = await import('@modelcontextprotocol/client');
    const s = await start(withTokens(), { env });
    const client = new V2Client({ name: 'modern', version: '1.0.0' }, { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: { pin: '2026-07-28' } } });
    client.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { name: 'Grace' } }));
    await client.connect(new V2Transport(new URL(s.url), { requestInit: { headers: { Authorization: `Bearer ${ALICE}` } } }));
    try {
      await expectModernHost(client, 'Grace');
    } finally {
      await client.close();
    }
  });

  it('hears list_changed on its subscriptions/listen stream', async () => {
    const s = await start(withTokens(), { env });
    const meta = { _meta: { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' }, 'io.modelcontextprotocol/clientCapabilities': {} } };
    const send = (id: number, method: string, params: Record<string, unknown>, extra: Record<string, string> = {}, signal?: AbortSignal) =>
      fetch(s.url, {
        method: 'POST',
        signal,
        headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': method, ...extra },
        body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, ...meta } }),
      });
    const stop = new AbortController();
    const listen = await send(1, 'subscriptions/listen', { notifications: { toolsListChanged: true } }, {}, stop.signal);
    let heard = '';
    const reading = (async () => {
      for await (const chunk of listen.body!.pipeThrough(new TextDecoderStream())) heard += chunk;
    })().catch(() => undefined);
    await waitFor(() => heard.includes('notifications/subscriptions/acknowledged'), 5000, 'the listen acknowledgement');
    await (await send(2, 'tools/call', { name: 'a__add_tool', arguments: {} }, { 'mcp-name': 'a__add_tool' })).json();
    await waitFor(() => heard.includes('"method":"notifications/tools/list_changed"'), 15_000, 'list_changed on the stream');
    stop.abort();
    await reading;
  });
});

describe('endpoints', () => {
  it('/healthz answers without a token; /metrics needs one and prints the Prometheus text', async () => {
    const s = await start(withTokens(), { env });
    const health = await waitFor(async () => {
      const r = await fetch(`${s.base}/healthz`);
      return (await r.clone().json()).servers.a === 'ready' && r;
    }, 15_000, 'the child to be ready');
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'healthy', servers: { a: 'ready' } });
    expect((await fetch(`${s.base}/metrics`)).status).toBe(401);
    const metrics = await fetch(`${s.base}/metrics`, { headers: { authorization: `Bearer ${BOB}` } });
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toMatch(/^# TYPE mcpx_calls_total counter$/m);
  });

  it('/healthz says 503 critical when most servers are down', async () => {
    const s = await start({ mcpServers: { gone: { command: '/nonexistent/child' } } });
    const r = await waitFor(async () => {
      const res = await fetch(`${s.base}/healthz`);
      return res.status === 503 ? res : undefined;
    }, 15_000, '503');
    expect(await r.json()).toMatchObject({ status: 'critical' });
  });
});

describe('stopping', () => {
  it('SIGTERM with a call in flight: the process exits within the budget and leaves no child', async () => {
    const mark = marker();
    const s = await start(withTokens(mark), { env });
    const a = await connect(s, ALICE);
    let progressed = false;
    const call = a.callTool({ name: 'a__slow', arguments: { ms: 60_000, steps: 600 } }, undefined, { onprogress: () => (progressed = true) }).then(() => 'answered', () => 'failed');
    await waitFor(() => progressed, 10_000, 'the call to reach the child');
    const t0 = Date.now();
    s.proc.kill('SIGTERM');
    const { code } = await s.exited;
    const took = Date.now() - t0;
    console.log(`stop with a call in flight took ${took} ms`);
    expect(code).toBe(0);
    expect(took).toBeLessThan(6000); // the grace (1.5 s) plus the stop budget (2.4 s), with room for a loaded machine
    expect(await call).toBe('failed');
    await waitFor(() => processesWith(mark).length === 0, 5000, 'the child to be gone');
  });
});
