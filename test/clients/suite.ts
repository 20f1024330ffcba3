// What every real client must get through mcpx, checked the same way for each (codex.test.ts,
// gemini.test.ts): the client runs one prompt against the scripted fake model; the model sees the tools
// the client offers and the tool output the client sends back, and the test compares both with a
// direct SDK connection to the same child.
import { randomUUID } from 'node:crypto';
import { expect, it } from 'vitest';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { fakeModel, type ModelApi, type Offered, type Script } from '../helpers/fake-model.js';
import { commandLines, connectDirect, notInstalled, type ClientRun, type RunOptions } from '../helpers/clients.js';
import { fixture, tempDir, waitFor, writeConfig } from '../helpers/mcpx.js';

export interface ClientSpec {
  name: string;
  api: ModelApi;
  /** The client's script, or undefined when it is not installed. */
  entry: string | undefined;
  run(entry: string, o: RunOptions): Promise<ClientRun>;
  /** The mcpx tool name behind a tool the client offered (undefined: not one of mcpx's). */
  mcpxName(t: Offered): string | undefined;
}

/** Text with what a proxy could get wrong: non-ASCII, a newline, JSON-looking braces; and a token only this test sent. */
const echoArgs = () => ({ text: `${randomUUID().slice(0, 8)} ünïcødé ✓ 𝄞\nsecond line {"a":[1,2]}` });

const texts = (r: CallToolResult) => r.content.filter((c) => c.type === 'text').map((c) => (c as { text: string }).text);

/** Runs the client with mcpx (config `extra` + the fixture child `fx`) against `script`. */
async function drive(spec: ClientSpec, extra: Record<string, unknown>, script: (dir: string) => Script, approve: string[] = []) {
  const dir = tempDir('mcpx-client-');
  // The temp dir is on the command line of every process of this run (client: its prompt; mcpx: its
  // config path; the child: an extra argument), so that what is left running can be found by it.
  const configFile = writeConfig({ ...extra, mcpServers: { fx: fixture('fx', {}, {}, dir) } }, dir);
  const model = await fakeModel(spec.api, script(dir));
  let ran: ClientRun;
  try {
    ran = await spec.run(spec.entry!, { dir, modelUrl: model.url, configFile, prompt: `Use the fx echo tool, then stop. (${dir})`, approve });
  } finally {
    await model.close();
  }
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
