// The output budget (pipeline/budget.ts): a tool answer whose text is over `maxOutputTokens` (4
// characters a token) reaches the client cut at a line boundary, with a note naming how much was left
// out and the mcpx__more handle; the pages give back the rest, for that session only. Images, resource
// links and structuredContent pass unchanged; an answer under the budget is byte for byte the child's.
// The cut shows in stats and in the audit trail.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fixture, marker, rawSessions, runCli, startMcpx, waitFor, writeConfig, tempDir, type Mcpx } from '../helpers/mcpx.js';

const mark = marker();
const serveRaw = rawSessions(afterEach, mark);
const open: Mcpx[] = [];
afterEach(async () => {
  for (const m of open.splice(0)) await m.close();
});

type Block = { type: string; text?: string } & Record<string, unknown>;
type Result = { content: Block[]; structuredContent?: unknown; isError?: boolean };

// 1,000 tokens: 4,000 characters of text at most.
const config = () => ({
  mcpServers: {
    fx: fixture('fx', { BYTES_TOOLS: '1' }, { maxOutputTokens: 1000, cache: { enabled: false } }, mark),
    whole: fixture('whole', { BYTES_TOOLS: '1' }, { maxOutputTokens: 0, cache: { enabled: false } }, mark),
  },
});
const lines = Array.from({ length: 400 }, (_, i) => `line ${String(i).padStart(4, '0')}: ${'word '.repeat(5)}`).join('\n'); // ~14 KB
const image = { type: 'image', data: Buffer.from('not really a png').toString('base64'), mimeType: 'image/png' };
const link = { type: 'resource_link', uri: 'fixture://fx/readme', name: 'readme' };
const audio = { type: 'audio', data: Buffer.from('not really a wav').toString('base64'), mimeType: 'audio/wav' };
const structured = { rows: Array.from({ length: 2000 }, (_, i) => i) };

async function start() {
  const m = await startMcpx(config());
  open.push(m);
  return m;
}
const call = async (m: Mcpx, name: string, args: Record<string, unknown>) => (await m.client.callTool({ name, arguments: args })) as unknown as Result;
const text = (r: unknown) => (r as Result).content[0]!.text!;
const handleOf = (note: string) => /"handle": "([^"]+)"/.exec(note)?.[1];

describe('the output budget', () => {
  it('cuts a long text at a line boundary, says what was left out, and mcpx__more pages the rest back', async () => {
    const m = await start();
    const r = await call(m, 'fx__mirror', { result: { content: [{ type: 'text', text: lines }, image, link, audio], structuredContent: structured } });
    const [first, img, lnk, aud, note] = r.content;
    expect(first!.text!.length).toBeLessThanOrEqual(4000);
    expect(first!.text!.endsWith('\n')).toBe(true); // cut after a whole line
    expect(lines.startsWith(first!.text!)).toBe(true);
    expect(img).toEqual(image);
    expect(lnk).toEqual(link);
    expect(aud).toEqual(audio);
    expect(r.structuredContent).toEqual(structured); // never cut
    expect(note!.text).toMatch(/cut to the output budget \(1,000 tokens for fx\): [\d,]+ of [\d,]+ characters shown, [\d,]+ \(about [\d,]+ tokens\) left out, in \d+ more pages/);
    const handle = handleOf(note!.text!)!;
    expect(handle).toBeTruthy();

    let text = first!.text!;
    for (let page = 2; ; page++) {
      const p = await call(m, 'mcpx__more', { handle, page });
      expect(p.isError).toBeUndefined();
      expect(p.content[0]!.text!.length).toBeLessThanOrEqual(4000);
      text += p.content[0]!.text!;
      if (/the last/.test(p.content[1]!.text!)) break;
      expect(p.content[1]!.text).toContain(`"page": ${page + 1}`);
    }
    expect(text).toBe(lines); // nothing lost, nothing added
    const past = await call(m, 'mcpx__more', { handle, page: 99 });
    expect(past.isError).toBe(true);

    // Another session has no such result.
    const other = await startMcpx(undefined, { dir: m.dir });
    open.push(other);
    const theirs = await call(other, 'mcpx__more', { handle, page: 2 });
    expect(theirs.isError).toBe(true);
    expect(theirs.content[0]!.text).toContain('no result with handle');
  });

  it('caches the whole answer: a cache hit is cut the same way and its pages give back the whole text', async () => {
    const m = await startMcpx({ mcpServers: { fx: fixture('fx', { BYTES_TOOLS: '1' }, { maxOutputTokens: 1000, cache: { ttl: '1h' } }, mark) } });
    open.push(m);
    const args = { result: { content: [{ type: 'text', text: lines }] } };
    const whole = async (r: Result) => {
      const handle = handleOf(r.content.at(-1)!.text!)!;
      let text = r.content[0]!.text!;
      for (let page = 2; ; page++) {
        const p = await call(m, 'mcpx__more', { handle, page });
        text += p.content[0]!.text!;
        if (/the last/.test(p.content[1]!.text!)) return text;
      }
    };
    const first = await call(m, 'fx__mirror', args);
    const hit = await call(m, 'fx__mirror', args);
    expect(text(await m.client.callTool({ name: 'fx__calls', arguments: {} }))).toBe('1'); // the second was the cache's
    expect(hit.content[0]!.text).toBe(first.content[0]!.text);
    expect(handleOf(hit.content.at(-1)!.text!)).not.toBe(handleOf(first.content.at(-1)!.text!));
    expect(await whole(hit)).toBe(lines);
    expect(await whole(first)).toBe(lines);
  });

  it('leaves an answer under the budget byte for byte as the child sent it', async () => {
    const dir = tempDir();
    const file = writeConfig(config(), dir);
    const s = serveRaw(file, dir);
    s.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bytes', version: '1' } } });
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    const result = { content: [{ type: 'text', text: 'é 漢字 😀 "q" \\ ' + 'x'.repeat(3500) }, image], structuredContent: structured, _meta: { k: 1 } };
    s.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'fx__mirror', arguments: { result } } });
    s.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'whole__mirror', arguments: { result } } });
    await s.response(2);
    await s.response(3);
    const line = (id: number) => s.stdout().split('\n').find((l) => l.endsWith(`"id":${id}}`))!;
    expect(line(2).slice(0, -'2}'.length)).toBe(line(3).slice(0, -'3}'.length)); // budgeted, and no budget at all: the same bytes
  });

  it('counts the cut in stats and records it in the audit trail', async () => {
    const m = await start();
    await call(m, 'fx__mirror', { result: { content: [{ type: 'text', text: lines }] } });
    const env = { MCPX_CACHE_DIR: join(m.dir, 'cache'), MCPX_STATE_DIR: join(m.dir, 'state') };
    const stats = await waitFor(async () => {
      const r = await runCli(['stats', '--json', '--config', m.configFile], { env });
      const fx = (JSON.parse(r.stdout) as { servers: { server: string; cuts: number; cutTokens: number }[] }).servers.find((x) => x.server === 'fx');
      return fx?.cuts ? fx : undefined;
    }, 10_000, 'the cut in stats');
    expect(stats.cuts).toBe(1);
    expect(stats.cutTokens).toBeGreaterThan(2000); // ~14 KB of text, 4 KB shown
    const audit = await waitFor(async () => {
      const r = await runCli(['audit', '--json', '--config', m.configFile, '--server', 'fx'], { env });
      return (JSON.parse(r.stdout) as { records: { name: string; cutTokens: number | null; cutKeptTokens: number | null }[] }).records.find((x) => x.name === 'mirror');
    }, 10_000, 'the audited call');
    expect(audit.cutTokens).toBe(Math.ceil(lines.length / 4));
    expect(audit.cutKeptTokens).toBeLessThanOrEqual(1000);
  });
});
