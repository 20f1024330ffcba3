// What every real client must get through mcpx, checked the same way for each (codex.test.ts,
// gemini.test.ts): the client runs one prompt against the scripted fake model; the model sees the tools
// the client offers and the tool output the client sends back, and the test compares both with a
// direct SDK connection to the same child. Then the same client against the team server (serve --http).
import { randomUUID } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { fakeModel, type FakeModel, type ModelApi, type Offered, type Script } from '../helpers/fake-model.js';
import { httpServers, recordingProxy } from '../helpers/http.js';
import { commandLines, connectDirect, notInstalled, type ClientRun, type RunOptions } from '../helpers/clients.js';
import { fixture, tempDir, waitFor, writeConfig } from '../helpers/mcpx.js';

export interface ClientSpec {
  name: string;
  api: ModelApi;
  /** The clientInfo.name it sends (mcpx's tool search decides by it). */
  clientName: string;
  /** The client's script, or undefined when it is not installed. */
  entry: string | undefined;
  run(entry: string, o: RunOptions): Promise<ClientRun>;
  /** The mcpx tool name behind a tool the client offered (undefined: not one of mcpx's). */
  mcpxName(t: Offered): string | undefined;
}

/** Text with what a proxy could get wrong: non-ASCII, a newline, JSON-looking braces; and a token only this test sent. */
const echoArgs = () => ({ text: `${randomUUID().slice(0, 8)} ünïcødé ✓ 𝄞\nsecond line {"a":[1,2]}` });

const texts = (r: CallToolResult) => r.content.filter((c) => c.type === 'text').map((c) => (c as { text: string }).text);

/** Runs the client once against the fake model with `script`; mcpx is started by it (configFile) or already serving (http). */
async function talk(spec: ClientSpec, dir: string, target: Pick<RunOptions, 'configFile' | 'http'>, script: Script, approve: string[] = []) {
  const model = await fakeModel(spec.api, script);
  try {
    const ran = await spec.run(spec.entry!, { dir, modelUrl: model.url, ...target, prompt: `Use the fx echo tool, then stop. (${dir})`, approve });
    return { ran, model };
  } finally {
    await model.close();
  }
}

/** Runs the client with mcpx (config `extra` + the fixture child `fx`) against `script`. */
async function drive(spec: ClientSpec, extra: Record<string, unknown>, script: (dir: string) => Script, approve: string[] = []) {
  const dir = tempDir('mcpx-client-');
  // The temp dir is on the command line of every process of this run (client: its prompt; mcpx: its
  // config path; the child: an extra argument), so that what is left running can be found by it.
  const configFile = writeConfig({ ...extra, mcpServers: { fx: fixture('fx', {}, {}, dir) } }, dir);
  const { ran, model } = await talk(spec, dir, { configFile }, script(dir), approve);
  expect(ran.timedOut, ran.stderr).toBe(false);
  expect(ran.exitCode, ran.stderr).toBe(0);
  expect(model.errors, ran.stderr).toEqual([]);
  await waitFor(() => commandLines(dir).length === 0, 15_000, `every process of the ${spec.name} run to be gone (left: ${commandLines(dir).join(' | ')})`);
  return model;
}

/** While the client runs, mcpx and its child run too (the check that nothing is left is not vacuous). */
function expectRunning(cmds: string[]): void {
  expect(cmds.some((c) => c.includes('mcpx.js serve')), cmds.join('\n')).toBe(true);
  expect(cmds.some((c) => c.includes('child.mjs')), cmds.join('\n')).toBe(true);
}

// A real client is a big program: a run took up to 27 s on a loaded two-core machine (3-6 s when idle).
const CLIENT_TEST_MS = 120_000;

export function clientTests(spec: ClientSpec): void {
  it(`${spec.name} is offered every child tool, its call reaches the child, the model gets what a direct connection gets, and nothing is left running`, { timeout: CLIENT_TEST_MS }, async (ctx) => {
    if (!spec.entry) return ctx.skip(notInstalled(spec.name));
    const direct = await connectDirect(fixture('fx'));
    const childTools = (await direct.listTools()).tools;
    const args = echoArgs();
    const expected = texts((await direct.callTool({ name: 'echo', arguments: args })) as CallToolResult);
    await direct.close();
    expect(expected).toEqual([`fx: ${args.text}`]);

    let during: string[] = [];
    const model = await drive(spec, {}, (dir) => (turn) => {
      if (turn.n > 0) return { say: 'Done.' };
      during = commandLines(dir);
      const echo = turn.offered.find((t) => spec.mcpxName(t) === 'fx__echo');
      if (!echo) throw new Error(`fx__echo not offered: ${turn.offered.map((t) => t.name).join(', ')}`);
      return { call: echo, args };
    });

    const offered = new Map(model.turns[0]!.offered.flatMap((t) => (spec.mcpxName(t)?.startsWith('fx__') ? [[spec.mcpxName(t)!, t.description]] : [])));
    expect([...offered.keys()].sort()).toEqual(childTools.map((t) => `fx__${t.name}`).sort());
    for (const t of childTools) expect(offered.get(`fx__${t.name}`), t.name).toBe(t.description);
    expect(model.turns).toHaveLength(2);
    expect(model.turns[1]!.output).toEqual(expected);
    expectRunning(during);
  });

  it(`${spec.name} with tool search on: the model finds the tool with mcpx__find_tools and calls it through mcpx__call_tool`, { timeout: CLIENT_TEST_MS }, async (ctx) => {
    if (!spec.entry) return ctx.skip(notInstalled(spec.name));
    const direct = await connectDirect(fixture('fx'));
    const echoTool = (await direct.listTools()).tools.find((t) => t.name === 'echo')!;
    const args = echoArgs();
    const expected = texts((await direct.callTool({ name: 'echo', arguments: args })) as CallToolResult);
    await direct.close();

    let during: string[] = [];
    let found: { name: string; description?: string; inputSchema?: unknown }[] = [];
    const mcpxTool = (offered: Offered[], name: string) => {
      const t = offered.find((o) => spec.mcpxName(o) === name);
      if (!t) throw new Error(`${name} not offered: ${offered.map((o) => o.name).join(', ')}`);
      return t;
    };
    const model = await drive(
      spec,
      { toolSearch: 'on' },
      (dir) => (turn) => {
        if (turn.n === 0) {
          during = commandLines(dir);
          return { call: mcpxTool(turn.offered, 'mcpx__find_tools'), args: { query: 'repeat my text back to me', limit: 3 } };
        }
        if (turn.n === 1) {
          found = JSON.parse(turn.output![0]!).tools;
          return { call: mcpxTool(turn.offered, 'mcpx__call_tool'), args: { name: found[0]!.name, arguments: args } };
        }
        return { say: 'Done.' };
      },
      ['mcpx__call_tool'],
    );

    const first = model.turns[0]!.offered.map((t) => spec.mcpxName(t)).filter((n) => n !== undefined);
    expect(first).toContain('mcpx__find_tools');
    expect(first).toContain('mcpx__call_tool');
    expect(first.filter((n) => n.startsWith('fx__'))).toEqual([]);
    expect(found[0]).toMatchObject({ name: 'fx__echo', description: echoTool.description, inputSchema: echoTool.inputSchema });
    expect(model.turns).toHaveLength(3);
    expect(model.turns[2]!.output).toEqual(expected);
    expectRunning(during);
  });

  it(`${spec.name} gets tool search by default ("auto") once the children bring more than toolBudget tools`, { timeout: CLIENT_TEST_MS }, async (ctx) => {
    if (!spec.entry) return ctx.skip(notInstalled(spec.name));
    // The fixture child lists 14 tools: over a budget of 3, under the default 40 (the first test).
    const model = await drive(spec, { toolBudget: 3 }, () => () => ({ say: 'Done.' }));
    const offered = model.turns[0]!.offered.map((t) => spec.mcpxName(t)).filter((n) => n !== undefined);
    expect(offered).toContain('mcpx__find_tools');
    expect(offered.filter((n) => n.startsWith('fx__'))).toEqual([]);
  });
}

// The team server's tokens (`http.tokens`): alice runs the client, ref makes the reference listing.
const ALICE = 'alice-team-token-5f0c2e9b';
const REF = 'ref-team-token-81d4a7c3';

/** The tool list a client of this name gets from the team server, as the SDK sees it (`ref`'s token). */
async function teamTools(url: string, clientName: string) {
  const client = new Client({ name: clientName, version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { Authorization: `Bearer ${REF}` } } });
  await client.connect(transport);
  try {
    return (await client.listTools()).tools;
  } finally {
    await transport.terminateSession();
    await client.close();
  }
}

/**
 * The same client against `mcpx serve --http` (README "Team server"): a Streamable HTTP URL and a
 * bearer token in its config instead of a command to start. One test, four runs of the client, through
 * a recording proxy that shows what it sent and what mcpx answered.
 */
export function teamServerTest(spec: ClientSpec): void {
  const servers = httpServers(afterEach);
  it(`${spec.name} against the team server: with its token it sees every tool and its call reaches the child, its session ends, a next run gets one, and a wrong or missing token is a 401 it does not hang on`, { timeout: 2 * CLIENT_TEST_MS }, async (ctx) => {
    if (!spec.entry) return ctx.skip(notInstalled(spec.name));
    const dir = tempDir('mcpx-client-');
    // One session per token, so that a second run of the client needs its first session gone.
    const config = { http: { tokens: { alice: ALICE, ref: REF }, limits: { sessions: 1 } }, mcpServers: { fx: fixture('fx', {}, {}, dir), fy: fixture('fy', {}, {}, dir) } };
    const s = await servers.start(config, { dir });
    const proxy = await recordingProxy(s.url);
    try {
      const tools = await teamTools(s.url, spec.clientName);
      const direct = await connectDirect(fixture('fx'));
      const args = echoArgs();
      const expected = texts((await direct.callTool({ name: 'echo', arguments: args })) as CallToolResult);
      await direct.close();
      const mcpxOffered = (m: FakeModel) => new Map(m.turns[0]!.offered.flatMap((t) => (spec.mcpxName(t) ? [[spec.mcpxName(t)!, t.description]] : [])));
      const http = (token?: string) => ({ http: { url: proxy.url, token } });
      const exchangesOf = async <T>(run: () => Promise<T>) => {
        const from = proxy.exchanges.length;
        const r = await run();
        return { ...r, exchanges: proxy.exchanges.slice(from) };
      };
      const ok = (ran: ClientRun, model: FakeModel) => {
        expect(ran.timedOut, ran.stderr).toBe(false);
        expect(ran.exitCode, ran.stderr).toBe(0);
        expect(model.errors, ran.stderr).toEqual([]);
      };

      // 1. The call reaches the child through the team server; the model gets what a direct call gets.
      let during: string[] = [];
      const first = await exchangesOf(() => talk(spec, dir, http(ALICE), (turn) => {
        if (turn.n > 0) return { say: 'Done.' };
        during = commandLines(dir);
        const echo = turn.offered.find((t) => spec.mcpxName(t) === 'fx__echo');
        if (!echo) throw new Error(`fx__echo not offered: ${turn.offered.map((t) => t.name).join(', ')}`);
        return { call: echo, args };
      }));
      ok(first.ran, first.model);
      const offered = mcpxOffered(first.model);
      expect([...offered.keys()].sort()).toEqual(tools.map((t) => t.name).sort());
      for (const t of tools) expect(offered.get(t.name), t.name).toBe(t.description);
      expect(first.model.turns).toHaveLength(2);
      expect(first.model.turns[1]!.output).toEqual(expected);
      expectRunning(during);
      expect(during.some((c) => c.includes('mcpx.js serve --http'))).toBe(true);
      // Every request carried the token and was answered; the session it opened, if it closed it, is gone.
      expect(first.exchanges.filter((e) => !e.authorized || e.status >= 400), JSON.stringify(first.exchanges)).toEqual([]);
      expect(first.exchanges[0]).toMatchObject({ method: 'POST', rpc: ['initialize'], protocolVersion: expect.any(String) });
      const session = first.exchanges[0]!.newSessionId!;
      expect(session).toBeTruthy();
      const deleted = first.exchanges.filter((e) => e.method === 'DELETE');
      for (const e of deleted) expect(e).toMatchObject({ sessionId: session, status: 200 });
      if (deleted.length) expect((await postWith(s.url, ALICE, session)).status).toBe(404);

      // 2. The next run gets a session too: the first one was closed, or is idle and makes room.
      const second = await talk(spec, dir, http(ALICE), () => ({ say: 'Done.' }));
      ok(second.ran, second.model);
      expect([...mcpxOffered(second.model).keys()].sort()).toEqual(tools.map((t) => t.name).sort());

      // 3, 4. A wrong token, no token: 401 with the challenge, the run ends (no retry loop), no mcpx tool reaches the model.
      for (const [token, challenge] of [[`${ALICE}x`, 'Bearer realm="mcpx", error="invalid_token"'], [undefined, 'Bearer realm="mcpx"']] as const) {
        const refused = await exchangesOf(() => talk(spec, dir, http(token), () => ({ say: 'Done.' })));
        expect(refused.ran.timedOut, refused.ran.stderr).toBe(false);
        expect(refused.exchanges.length).toBeGreaterThan(0);
        expect(refused.exchanges.length).toBeLessThanOrEqual(3);
        for (const e of refused.exchanges) expect(e, JSON.stringify(refused.exchanges)).toMatchObject({ status: 401, wwwAuthenticate: expect.stringMatching(new RegExp(`^${challenge.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)) });
        for (const turn of refused.model.turns) expect(turn.offered.filter((t) => spec.mcpxName(t))).toEqual([]);
      }
    } finally {
      await proxy.close();
    }
    // The clients are gone; stopping the server leaves nothing of this test running.
    expect(commandLines(dir).filter((c) => !c.includes('mcpx.js serve') && !c.includes('child.mjs'))).toEqual([]);
    s.proc.kill('SIGTERM');
    await s.exited;
    await waitFor(() => commandLines(dir).length === 0, 15_000, `every process of the ${spec.name} test to be gone (left: ${commandLines(dir).join(' | ')})`);
  });
}

/** A request in an existing session (tools/list), to see whether mcpx still knows it. */
function postWith(url: string, token: string, sessionId: string) {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
}
