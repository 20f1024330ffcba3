// The MCP conformance suite's resources-subscribe and resources-unsubscribe scenarios (issue 11,
// section 5), run against server-everything directly and through mcpx: they must pass both ways.
// The suite speaks only streamable HTTP and mcpx serves stdio, so mcpx is reached through a test-only
// stdio→HTTP bridge (test/fixtures/stdio-http-bridge.mjs), which passes messages through unchanged.
// Both scenarios subscribe to test://watched-resource, which server-everything does not list: through
// mcpx it reaches server-everything because it is the only child offering resources.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { EVERYTHING, MCPX, ROOT, marker, processesWith, tempDir, waitFor, writeConfig } from '../helpers/mcpx.js';

const CONFORMANCE = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
const BRIDGE = join(ROOT, 'test/fixtures/stdio-http-bridge.mjs');
// The suite is built for Node 22; on Node 20 it needs one missing export (see the fixture).
const NODE20 = Number(process.versions.node.split('.')[0]) < 22 ? ['--import', join(ROOT, 'test/fixtures/conformance/node20.mjs')] : [];
const SCENARIOS = ['resources-subscribe', 'resources-unsubscribe'];

const running: ChildProcess[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => stopProcess(p)));
});

/** Starts a long-running process and resolves with the first match of `ready` in its output. */
function startProcess(args: string[], ready: RegExp, env: Record<string, string> = {}): Promise<RegExpMatchArray> {
  const p = spawn(process.execPath, args, { cwd: tempDir(), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.push(p);
  let out = '';
  return new Promise((resolve, reject) => {
    const look = (d: Buffer) => {
      out += d;
      const m = out.match(ready);
      if (m) resolve(m);
    };
    p.stdout!.on('data', look);
    p.stderr!.on('data', look);
    p.on('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before it was ready:\n${out}`)));
  });
}

function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Runs one scenario; its verdict line ("Passed: 1/1, 0 failed") and exit code. */
async function scenario(url: string, name: string): Promise<{ passed: string; exitCode: number | undefined; output: string }> {
  const r = await execa(process.execPath, [...NODE20, CONFORMANCE, 'server', '--url', url, '--scenario', name], { cwd: tempDir(), reject: false, env: { NO_COLOR: '1' } });
  const output = r.stdout + r.stderr;
  return { passed: /Passed: (\d+\/\d+)/.exec(output)?.[1] ?? 'no verdict', exitCode: r.exitCode, output };
}

describe('MCP conformance: resource subscriptions', () => {
  it('pass against server-everything directly and through mcpx alike', async () => {
    const mark = marker();
    const port = await freePort();
    await startProcess([EVERYTHING, 'streamableHttp', mark], /listening on port/, { PORT: String(port) });
    const direct = `http://127.0.0.1:${port}/mcp`;

    const dir = tempDir();
    const config = writeConfig({ mcpServers: { everything: { command: process.execPath, args: [EVERYTHING, 'stdio', mark] } } }, dir);
    const env = { MCPX_CONFIG: '', MCPX_STATE_DIR: join(dir, 'state'), MCPX_CACHE_DIR: join(dir, 'cache') };
    const [, viaMcpx] = await startProcess([BRIDGE, process.execPath, MCPX, 'serve', '--config', config], /listening (\S+)/, env);

    for (const name of SCENARIOS) {
      const [a, b] = await Promise.all([scenario(direct, name), scenario(viaMcpx!, name)]);
      expect(a.passed, `${name} against server-everything:\n${a.output}`).toBe('1/1');
      expect(b.passed, `${name} through mcpx:\n${b.output}`).toBe('1/1');
      expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    }

    await Promise.all(running.splice(0).map((p) => stopProcess(p)));
    await waitFor(() => processesWith(mark).length === 0, 5000, 'server-everything and mcpx to be gone');
  }, 120_000); // four runs of the suite's CLI, each loading a large bundle
});
