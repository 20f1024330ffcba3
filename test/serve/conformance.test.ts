// The MCP conformance suite's resources-subscribe and resources-unsubscribe scenarios, run
// against server-everything directly and through mcpx: they must pass both ways.
// The suite speaks only streamable HTTP and mcpx serves stdio, so mcpx is reached through a test-only
// stdio→HTTP bridge (test/fixtures/stdio-http-bridge.mjs), which passes messages through unchanged.
// Both scenarios subscribe to test://watched-resource, which server-everything does not list: through
// mcpx it reaches server-everything because it is the only child offering resources.
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EVERYTHING, MCPX, ROOT, marker, processesWith, tempDir, waitFor, writeConfig } from '../helpers/mcpx.js';
import { processes, scenario } from '../helpers/conformance.js';

const BRIDGE = join(ROOT, 'test/fixtures/stdio-http-bridge.mjs');
const SCENARIOS = ['resources-subscribe', 'resources-unsubscribe'];
const { start: startProcess, stopAll } = processes(afterEach);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
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

    await stopAll();
    await waitFor(() => processesWith(mark).length === 0, 5000, 'server-everything and mcpx to be gone');
  }, 120_000); // four runs of the suite's CLI, each loading a large bundle
});
