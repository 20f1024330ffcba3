// mcpx serve's life: start-up answers, bad config, missing variables, shutdown with no process left.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { CHILD, MCPX, WRAPPER, fixture, marker, processesWith, rawServe, startMcpx, tempDir, text, waitFor, writeConfig, type Mcpx } from '../helpers/mcpx.js';

let running: Mcpx | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const INIT = {
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: { roots: {}, elicitation: {} }, clientInfo: { name: 'claude-code', version: '2.0.0' } },
};

describe('start-up', () => {
  it('answers server/discover with method-not-found and initialize at once, even while a child hangs', async () => {
    const dir = tempDir();
    const mark = marker();
    const file = writeConfig({ mcpServers: { hang: fixture('hang', { HANG_INIT: '1' }, {}, mark), ok: fixture('ok', {}, {}, mark) } }, dir);
    const s = rawServe(file, dir);
    const t0 = performance.now();
    s.send({ jsonrpc: '2.0', id: 0, method: 'server/discover', params: {} });
    const discover = await s.response(0);
    expect(discover.error.code).toBe(-32601);
    s.send(INIT);
    const init = await s.response(1);
    const ms = performance.now() - t0;
    expect(init.result.protocolVersion).toBe('2025-11-25');
    expect(init.result.serverInfo.name).toBe('mcpx');
    expect(init.result.capabilities.tools).toBeDefined();
    expect(ms).toBeLessThan(15_000); // room for a loaded machine; waiting for the hanging child would take 30 s
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    s.send({ jsonrpc: '2.0', id: 2, method: 'ping' });
    expect((await s.response(2)).result).toEqual({});
    // Every line on stdout is JSON-RPC.
    for (const line of s.stdout().split('\n').filter(Boolean)) expect(JSON.parse(line).jsonrpc).toBe('2.0');
    s.proc.kill('SIGINT');
    expect((await s.exited).code).toBe(0);
    await waitFor(() => processesWith(mark).length === 0, 3000, 'children gone');
  });

  it('reports a missing variable naming the server and the variable, and serves the other children', async () => {
    const env = { ...process.env };
    delete env.MCPX_TEST_UNSET_TOKEN;
    running = await startMcpx({
      mcpServers: {
        needs: fixture('needs', { API_TOKEN: '${MCPX_TEST_UNSET_TOKEN}' }),
        fine: fixture('fine'),
      },
    });
    const { tools } = await running.client.listTools();
    expect(tools.map((t) => t.name)).toContain('fine__echo');
    expect(tools.some((t) => t.name.startsWith('needs__'))).toBe(false);
    expect(running.stderr()).toMatch(/server "needs": variable MCPX_TEST_UNSET_TOKEN is not set \(used in env\.API_TOKEN\)/);
    expect(running.stderr()).not.toContain('${MCPX_TEST_UNSET_TOKEN}'.replace('$', '$$'));
  });

  it('expands variables from .env beside the config without overriding the environment', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, '.env'), 'MCPX_TEST_GREETING=from-dotenv\nMCPX_TEST_SET=dotenv-loses\n');
    running = await startMcpx(
      { mcpServers: { a: fixture('${MCPX_TEST_GREETING}', { OTHER: '${MCPX_TEST_SET}' }) } },
      { dir, env: { MCPX_TEST_SET: 'env-wins' } },
    );
    const r = await running.client.callTool({ name: 'a__echo', arguments: { text: 'x' } });
    expect(text(r)).toBe('from-dotenv: x');
  });
});

describe('client capabilities', () => {
  it('declares to children only what the client declared: an elicitation from a child gets an error', async () => {
    running = await startMcpx({ mcpServers: { a: fixture('a') } }, { capabilities: {} });
    // mcpx's client for the child has no elicitation handler: the child's request is refused with
    // method-not-found, which the child passes on as its answer to the call.
    await expect(running.client.callTool({ name: 'a__ask', arguments: {} })).rejects.toThrow(/-32601.*Method not found/);
    expect(text(await running.client.callTool({ name: 'a__echo', arguments: { text: 'fine' } }))).toBe('a: fine');
  });
});

describe('bad config', () => {
  it('exits 2 on bad JSON, naming the file, without a stack trace', async () => {
    const dir = tempDir();
    const file = join(dir, 'mcpx.json');
    writeFileSync(file, '{"mcpServers": {"a": {"command": "x",}}}');
    const r = await execa(process.execPath, [MCPX, 'serve', '--config', file], { reject: false, input: '' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/not valid JSON/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  it.each([
    [{ mcpServers: { a: { type: 'ws', url: 'ws://x' } } }, /server "a", field "type": unknown type "ws"/],
    [{ mcpServers: { a: { args: ['x'] } } }, /server "a", field "command": needs either "command" \(stdio\) or "url"/],
    [{ mcpServers: { a: { command: 'x', args: 'not-a-list' } } }, /server "a", field "args": must be a list of strings/],
    [{ mcpServers: { a: { command: 'x', timeoutMs: 'soon' } } }, /server "a", field "timeoutMs": must be a duration/],
  ])('exits 2 on an invalid entry %#', async (config, message) => {
    const file = writeConfig(config);
    const r = await execa(process.execPath, [MCPX, 'serve', '--config', file], { reject: false, input: '' });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toContain(file);
    expect(r.stdout).toBe('');
  });
});

describe('shutdown', () => {
  it('leaves no process behind when a child runs through an npx-style wrapper that ignores stdin closing', async () => {
    const dir = tempDir();
    const mark = marker();
    const pidFile = join(dir, 'real.pid');
    running = await startMcpx(
      {
        mcpServers: {
          wrapped: { command: process.execPath, args: [WRAPPER, CHILD, mark], env: { NAME: 'wrapped', STAY_ALIVE: '1', PID_FILE: pidFile } },
        },
      },
      { dir },
    );
    expect(text(await running.client.callTool({ name: 'wrapped__echo', arguments: { text: 'x' } }))).toBe('wrapped: x');
    const realPid = Number(readFileSync(pidFile, 'utf8'));
    expect(processesWith(mark)).toContain(realPid);
    const mcpxPid = running.pid;
    const t0 = performance.now();
    await running.close();
    running = undefined;
    await waitFor(() => processesWith(mark).length === 0 && processesWith(String(mcpxPid)).length === 0, 3500, 'every process gone');
    expect(performance.now() - t0).toBeLessThan(3500);
  });

  it('stops on SIGINT (as Claude Code stops servers) within 3 s with no child left', async () => {
    const dir = tempDir();
    const mark = marker();
    const file = writeConfig({ mcpServers: { a: fixture('a', {}, {}, mark), b: fixture('b', { STAY_ALIVE: '1' }, {}, mark) } }, dir);
    const s = rawServe(file, dir);
    s.send(INIT);
    await s.response(1);
    s.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    await waitFor(() => processesWith(mark).length === 2, 5000, 'both children running');
    const t0 = performance.now();
    s.proc.kill('SIGINT');
    const { code } = await s.exited;
    expect(code).toBe(0);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(processesWith(mark)).toEqual([]);
  });
});

describe('secret commands', () => {
  it('runs ${cmd:…} at child start and gives the child its output; a failing one names the server and field, not the output', async () => {
    const dir = tempDir();
    const token = `tok-cmd-${Math.random().toString(36).slice(2)}`;
    writeFileSync(join(dir, 'print-token.mjs'), `process.stdout.write(${JSON.stringify(token + '\n')})`);
    writeFileSync(join(dir, 'fail.mjs'), `process.stdout.write('leaked-${token}'); process.exit(3)`);
    running = await startMcpx(
      {
        mcpServers: {
          vault: fixture('vault', { API_TOKEN: `\${cmd:node ${join(dir, 'print-token.mjs')}}` }),
          broken: fixture('broken', { API_TOKEN: `\${cmd:node ${join(dir, 'fail.mjs')}}` }),
        },
      },
      { dir },
    );
    const hash = text(await running.client.callTool({ name: 'vault__env_hash', arguments: { name: 'API_TOKEN' } }));
    const { createHash } = await import('node:crypto');
    expect(hash).toBe(createHash('sha256').update(token).digest('hex')); // trimmed: no newline
    expect(running.stderr()).toMatch(/broken: could not start: server "broken": the secret command for env\.API_TOKEN failed \(exited with code 3\)/);
    expect(running.stderr()).not.toContain(token);
  });
});
