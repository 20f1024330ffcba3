// Remote children over HTTP (Streamable HTTP, and the SSE fallback), started by the test on 127.0.0.1,
// and credential rotation through .env and headersHelper without restarting mcpx (issues 2 and 7).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { ROOT, startMcpx, tempDir, text, waitFor, type Mcpx } from '../helpers/mcpx.js';

const servers: ResultPromise[] = [];
const open: Mcpx[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
  for (const s of servers.splice(0)) s.kill('SIGTERM');
});

async function remote(env: Record<string, string>): Promise<string> {
  const proc = execa(process.execPath, [join(ROOT, 'test/fixtures/http-server.mjs')], { env, buffer: false, reject: false });
  servers.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d));
  const port = await waitFor(() => /PORT=(\d+)/.exec(out)?.[1], 20_000, 'the HTTP server'); // a node start: slow on a busy machine
  return `http://127.0.0.1:${port}/mcp`;
}

describe('remote children', () => {
  it('lists and calls a Streamable HTTP child, headers expanded from .env', async () => {
    const token = `tok-${Math.random().toString(36).slice(2)}`;
    const url = await remote({ TOKEN: token });
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), `DOCS_TOKEN=${token}\n`);
    const m = await startMcpx({ mcpServers: { docs: { type: 'http', url, headers: { Authorization: 'Bearer ${DOCS_TOKEN}' } } } }, { dir });
    open.push(m);
    expect((await m.client.listTools()).tools.map((t) => t.name)).toContain('docs__echo');
    expect(text(await m.client.callTool({ name: 'docs__echo', arguments: { text: 'over http' } }))).toBe('remote: over http');
    expect(m.stderr()).not.toContain(token);
  });

  it('falls back to SSE when the server only speaks SSE', async () => {
    const url = await remote({ TOKEN: 'sse-token', SSE_ONLY: '1' });
    const m = await startMcpx({ mcpServers: { old: { type: 'http', url, headers: { Authorization: 'Bearer sse-token' } } } });
    open.push(m);
    expect(text(await m.client.callTool({ name: 'old__echo', arguments: { text: 'via sse' } }))).toBe('remote: via sse');
    expect(m.stderr()).toMatch(/old: Streamable HTTP refused .*; trying SSE/);
  });

  it('on 401 re-reads .env and reconnects: a rotated token works without restarting mcpx', async () => {
    const good = `tok-good-${Math.random().toString(36).slice(2)}`;
    const bad = `tok-old-${Math.random().toString(36).slice(2)}`;
    const url = await remote({ TOKEN: good });
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), `NOTION_TOKEN=${bad}\n`);
    const m = await startMcpx(
      { mcpServers: { notion: { type: 'http', url, headers: { Authorization: 'Bearer ${NOTION_TOKEN}' } } } },
      { dir },
    );
    open.push(m);
    expect((await m.client.listTools()).tools.some((t) => t.name.startsWith('notion__'))).toBe(false); // refused: nothing to list
    expect(m.stderr()).toMatch(/notion rejected the credentials \(HTTP 401\): check NOTION_TOKEN/);

    const changed = new Promise<void>((resolve) => m.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => resolve()));
    writeFileSync(join(dir, '.env'), `NOTION_TOKEN=${good}\n`); // the developer fixes the token; mcpx keeps running
    await changed; // the child reconnected with the new token and its tools appeared
    const r = await m.client.callTool({ name: 'notion__echo', arguments: { text: 'after rotation' } });
    expect(text(r)).toBe('remote: after rotation');
    expect(m.stderr()).not.toContain(good);
    expect(m.stderr()).not.toContain(bad);
  });

  it('runs headersHelper at connect and again after a refusal', async () => {
    const token = `tok-helper-${Math.random().toString(36).slice(2)}`;
    const url = await remote({ TOKEN: token });
    const dir = tempDir();
    const tokenFile = join(dir, 'token.txt');
    writeFileSync(tokenFile, 'wrong');
    const helper = `node -e "process.stdout.write(JSON.stringify({Authorization: 'Bearer ' + require('fs').readFileSync('${tokenFile}', 'utf8')}))"`;
    const m = await startMcpx({ mcpServers: { wiki: { type: 'http', url, headersHelper: helper } } }, { dir });
    open.push(m);
    await m.client.listTools();
    writeFileSync(tokenFile, token);
    // The child's tools were never listed (first connect refused): the call path re-runs the helper.
    await waitFor(async () => {
      const r = await m.client.callTool({ name: 'wiki__echo', arguments: { text: 'hi' } }).catch(() => undefined);
      return r && text(r) === 'remote: hi';
    }, 8000, 'the helper to be re-run');
    expect(m.stderr()).not.toContain(token);
  });
});
