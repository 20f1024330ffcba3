// A 2025-era client (the helper's SDK 1.x client) through mcpx to a 2026-07-28-only child
// (test/fixtures/modern-child.mjs), and the era verdict stored with the catalog: real processes.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElicitRequestSchema, LoggingMessageNotificationSchema, ResourceUpdatedNotificationSchema, ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { CHILD, ROOT, cacheMeta, fixture, marker, processesWith, runCli, startMcpx, tempDir, text, waitFor, type Mcpx } from '../helpers/mcpx.js';
import { MODERN_CHILD, modern } from '../helpers/modern.js';

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);

describe('a legacy client through mcpx to a modern child', () => {
  const mark = marker();
  let m: Mcpx;
  const listChanged: number[] = [];
  const updated: string[] = [];
  const asked: unknown[] = [];

  beforeAll(async () => {
    m = await startMcpx({ mcpServers: { nova: modern('nova', {}, { cache: { ttl: '1h' } }, mark) } }, { capabilities: { elicitation: {} } });
    m.client.setRequestHandler(ElicitRequestSchema, async (req) => {
      asked.push(req.params);
      return { action: 'accept', content: { name: 'Grace' } };
    });
    m.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => void listChanged.push(Date.now()));
    m.client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => void updated.push(n.params.uri));
  });
  afterAll(async () => {
    await m?.close();
    await waitFor(() => processesWith(mark).length === 0, 5000, 'children to be gone');
  });

  it('lists and calls, results as the child sent them (no child serverInfo, no ttlMs/cacheScope)', async () => {
    const { tools } = await m.client.listTools();
    const echo = tools.find((t) => t.name === 'nova__echo')!;
    expect(echo).toMatchObject({ title: 'Echo', annotations: { readOnlyHint: true }, _meta: { fixture: 'nova' } });
    const r = await m.client.callTool({ name: 'nova__echo', arguments: { text: 'hi' } });
    expect(r).toEqual({ content: [{ type: 'text', text: 'nova: hi' }], _meta: { from: 'nova' } });
    const s = await m.client.callTool({ name: 'nova__structured', arguments: {} });
    expect(s.structuredContent).toEqual({ n: 42 });
    const read = await m.client.readResource({ uri: 'fixture://nova/readme' });
    expect(read).toEqual({ contents: [{ uri: 'fixture://nova/readme', text: 'nova says: fixture://nova/readme' }] });
  });

  it('forwards progress, in order', async () => {
    const seen: number[] = [];
    const r = await m.client.callTool({ name: 'nova__slow', arguments: { ms: 90, steps: 3 } }, undefined, { onprogress: (p) => void seen.push(p.progress) });
    expect(text(r)).toMatch(/slow done/);
    expect(seen).toEqual([1, 2, 3]);
  });

  it('cancels the child request when the upstream request is cancelled', async () => {
    const before = Number(text(await m.client.callTool({ name: 'nova__cancelled', arguments: {} })));
    const ac = new AbortController();
    const call = m.client.callTool({ name: 'nova__slow', arguments: { ms: 10_000, steps: 100 } }, undefined, { signal: ac.signal, onprogress: () => ac.abort('stop') });
    await expect(call).rejects.toThrow();
    await waitFor(async () => Number(text(await m.client.callTool({ name: 'nova__cancelled', arguments: {} }))) === before + 1, 5000, 'the child to see the cancellation');
  });

  it('turns input_required into an elicitation of the legacy client, and back', async () => {
    const r = await m.client.callTool({ name: 'nova__ask', arguments: {} });
    expect(text(r)).toBe('nova: accept {"name":"Grace"}');
    expect(asked).toEqual([expect.objectContaining({ message: 'Your name?', requestedSchema: expect.objectContaining({ type: 'object' }) })]);
  });

  it('re-lists after the child says list_changed on its listen stream', async () => {
    const before = listChanged.length;
    await m.client.callTool({ name: 'nova__add_tool', arguments: {} });
    await waitFor(() => listChanged.length > before, 15_000, 'tools/list_changed');
    const { tools } = await m.client.listTools();
    expect(tools.map((t) => t.name)).toContain('nova__added_1');
  });

  it('subscribes through the listen filter: resources/updated reaches the client', async () => {
    await m.client.subscribeResource({ uri: 'fixture://nova/readme' });
    await m.client.callTool({ name: 'nova__touch', arguments: { uri: 'fixture://nova/readme' } });
    await waitFor(() => updated.includes('fixture://nova/readme'), 5000, 'resources/updated');
  });

  it('forwards the log level on each request (no logging/setLevel in 2026) and the child\'s log messages back', async () => {
    const logs: unknown[] = [];
    m.client.setNotificationHandler(LoggingMessageNotificationSchema, async (n) => void logs.push(n.params));
    await m.client.setLoggingLevel('info');
    await m.client.callTool({ name: 'nova__log', arguments: {} });
    await waitFor(() => logs.length > 0, 5000, 'the log message');
    expect(logs[0]).toMatchObject({ level: 'info', data: 'nova log line' });
  });

  it('shows the era and protocol version in mcpx://status', async () => {
    const r = await m.client.readResource({ uri: 'mcpx://status' });
    const status = JSON.parse((r.contents[0] as { text: string }).text);
    expect(status.servers.nova.protocol).toEqual({ setting: 'auto', era: 'modern', version: '2026-07-28' });
  });

  it('answers a repeated read-only call from the cache', async () => {
    await m.client.callTool({ name: 'nova__search', arguments: { query: 'q' } });
    const again = await m.client.callTool({ name: 'nova__search', arguments: { query: 'q' } });
    expect(cacheMeta(again)?.status).toBe('hit');
  });
});

describe('the era verdict is stored with the catalog', () => {
  it('probes a modern child once: the second start connects with no server/discover, one process each', async () => {
    const dir = tempDir();
    const spawn = join(dir, 'spawns.log');
    const discover = join(dir, 'discover.log');
    const config = { mcpServers: { nova: modern('nova', { spawn, discover }) } };
    for (const round of [1, 2]) {
      const m = await startMcpx(config, { dir });
      expect(text(await m.client.callTool({ name: 'nova__echo', arguments: { text: String(round) } }))).toBe(`nova: ${round}`);
      await m.close();
      expect(lines(spawn).length, `spawns after start ${round}`).toBe(round);
      expect(lines(discover).length, `server/discover after start ${round}`).toBe(1);
    }
  });

  it('a stored verdict that no longer fits leads to one re-probe, not a failure (child downgraded, then upgraded)', async () => {
    const dir = tempDir();
    const spawn = join(dir, 'spawns.log');
    // Same command and args (the identity the verdict is stored under), another program behind them.
    const entry = join(dir, 'server.mjs');
    const config = { mcpServers: { nova: { command: process.execPath, args: [entry], env: { NAME: 'nova', SPAWN_LOG: spawn } } } };
    const become = (file: string) => writeFileSync(entry, `import ${JSON.stringify(file)};\n`);
    for (const [round, [file, era]] of ([[MODERN_CHILD, 'modern'], [CHILD, 'legacy'], [MODERN_CHILD, 'modern']] as const).entries()) {
      become(file);
      const m = await startMcpx(config, { dir });
      // A new text each round: a cached answer would not need the child.
      expect(text(await m.client.callTool({ name: 'nova__echo', arguments: { text: `${era} ${round}` } }))).toBe(`nova: ${era} ${round}`);
      const status = JSON.parse(((await m.client.readResource({ uri: 'mcpx://status' })).contents[0] as { text: string }).text);
      expect(status.servers.nova.protocol.era).toBe(era);
      await m.close();
    }
    // Modern processes only (child.mjs logs none): start 1 probes in place (1); start 3 is refused on the
    // stored legacy prior and probes again on a new process (2). One re-probe, never a loop.
    expect(lines(spawn).length).toBe(3);
  });

  it('doctor shows a modern child\'s era', async () => {
    const dir = tempDir();
    const config = join(dir, 'mcpx.json');
    writeFileSync(config, JSON.stringify({ mcpServers: { nova: modern('nova', {}) } }));
    const r = await runCli(['doctor', '--config', config], { env: { MCPX_STATE_DIR: join(dir, 'state'), MCPX_CACHE_DIR: join(dir, 'cache') } });
    expect(r.stdout).toMatch(/protocol 2026-07-28: initialized after \d+ ms, listed after \d+ ms; 2026-07-28 era \(server\/discover\), "protocol": "auto"/);
  });

  it('a probe that times out is no verdict: the next start probes again rather than taking it for legacy', async () => {
    const dir = tempDir();
    const spawn = join(dir, 'spawns.log');
    const discover = join(dir, 'discover.log');
    const entry = modern('nova', { spawn, discover }, { maxRestarts: 0 });
    // Start 1: the child needs 3 s to start, mcpx waits 1 s.
    const slow = await startMcpx({ mcpServers: { nova: { ...entry, env: { ...entry.env, START_DELAY_MS: '3000' }, startupTimeoutMs: '1s' } } }, { dir });
    const down = await waitFor(async () => {
      const r = await slow.client.readResource({ uri: 'mcpx://status' });
      const nova = JSON.parse((r.contents[0] as { text: string }).text).servers.nova;
      return nova.state === 'down' && nova;
    }, 10_000, 'the slow child to be down');
    expect(down.reason).toMatch(/no answer to server\/discover within 1000 ms/);
    expect(down.protocol.era).toBeUndefined();
    await slow.close();
    // Start 2: no legacy verdict was stored, so one process, probed again (a legacy prior would be refused: 2 spawns).
    const m = await startMcpx({ mcpServers: { nova: entry } }, { dir });
    expect(text(await m.client.callTool({ name: 'nova__echo', arguments: { text: 'late' } }))).toBe('nova: late');
    await m.close();
    expect(lines(spawn).length).toBe(2);
    expect(lines(discover).length).toBe(2);
  });

  it('a child that exits on server/discover is 2025-era: started again as such, and stored so', async () => {
    const dir = tempDir();
    const spawn = join(dir, 'spawns.log');
    const config = { mcpServers: { rusty: { command: process.execPath, args: [join(ROOT, 'test/fixtures/exit-on-discover.mjs')], env: { NAME: 'rusty', SPAWN_LOG: spawn } } } };
    for (const round of [1, 2]) {
      const m = await startMcpx(config, { dir });
      expect(text(await m.client.callTool({ name: 'rusty__echo', arguments: { text: String(round) } }))).toBe(`rusty: ${round}`);
      await m.close();
    }
    // Start 1: the probe (exits) and the legacy start; start 2: the stored legacy verdict, no probe.
    expect(lines(spawn).length).toBe(3);
  });

  it('stores a 2025-era child as legacy under protocol auto', async () => {
    const dir = tempDir();
    const m = await startMcpx({ mcpServers: { old: fixture('old') } }, { dir });
    expect(text(await m.client.callTool({ name: 'old__echo', arguments: { text: 'x' } }))).toBe('old: x');
    await m.close();
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(join(dir, 'cache', 'cache.db'), { readonly: true });
    const row = db.prepare("SELECT json_extract(data, '$.era.kind') AS kind FROM catalog").get() as { kind: string };
    db.close();
    expect(row.kind).toBe('legacy');
  });

  it('"protocol": "legacy" on a modern child fails clearly, and doctor says why', async () => {
    const dir = tempDir();
    const config = join(dir, 'mcpx.json');
    writeFileSync(config, JSON.stringify({ mcpServers: { nova: modern('nova', {}, { protocol: 'legacy' }) } }));
    const r = await runCli(['doctor', '--config', config], { env: { MCPX_STATE_DIR: join(dir, 'state'), MCPX_CACHE_DIR: join(dir, 'cache') } });
    expect(r.exitCode).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/does not speak the 2025 protocol.*2026-07-28/);
  });
});

describe("a modern child's caching advice", () => {
  it('sets the TTL of a read where the config sets none; a config TTL wins', async () => {
    const mark = marker();
    const m = await startMcpx({
      mcpServers: {
        nova: modern('nova', {}, { env: { NAME: 'nova', LIST_TTL_MS: '0' } }, mark), // advises "do not reuse"
        vera: modern('vera', {}, { env: { NAME: 'vera', LIST_TTL_MS: '0' }, cache: { ttl: '1h' } }, mark),
      },
    });
    try {
      for (const name of ['nova', 'vera']) await m.client.readResource({ uri: `fixture://${name}/readme` });
      const nova = await m.client.readResource({ uri: 'fixture://nova/readme' });
      const vera = await m.client.readResource({ uri: 'fixture://vera/readme' });
      expect(cacheMeta(nova)?.status).not.toBe('hit');
      expect(cacheMeta(vera)?.status).toBe('hit');
      expect(vera.contents).toEqual([{ uri: 'fixture://vera/readme', text: 'vera says: fixture://vera/readme' }]);
    } finally {
      await m.close();
      await waitFor(() => processesWith(mark).length === 0, 5000, 'children to be gone');
    }
  });
});
