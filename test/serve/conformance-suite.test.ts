// The MCP conformance suite's whole server suite (~30 scenarios), run against a server with what the
// scenarios require (test/fixtures/conformance-server.mjs) directly over Streamable HTTP, and through
// `mcpx serve --http` with that server as its only child over stdio (prefix "": names unchanged).
// Every scenario that passes directly must pass through mcpx; dns-rebinding-protection is mcpx's own
// (it checks Host/Origin; the fixture does not) and must pass through mcpx whatever the fixture does.
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, marker, processesWith, waitFor } from '../helpers/mcpx.js';
import { httpServers } from '../helpers/http.js';
import { processes, suite } from '../helpers/conformance.js';

const SERVER = join(ROOT, 'test/fixtures/conformance-server.mjs');
const { start: startProcess, stopAll } = processes(afterEach);
const { start: startMcpx } = httpServers(afterEach);

type Tally = Awaited<ReturnType<typeof suite>>['scenarios'];
const passing = (t: Tally) => [...t].filter(([, r]) => r.ok).map(([name]) => name);
const line = (t: Tally) => `${passing(t).length}/${t.size} scenarios (${[...t.values()].reduce((n, r) => n + r.passed, 0)} checks passed)`;

describe('MCP conformance: the server suite, directly and through mcpx', () => {
  it('every scenario that passes against the fixture passes through mcpx, and mcpx passes dns-rebinding-protection', async () => {
    const mark = marker();
    const [, port] = await startProcess([SERVER, '--port', '0', mark], /listening on port (\d+)/);
    const config = { mcpServers: { conformance: { command: process.execPath, args: [SERVER, mark], prefix: '' } } };
    const mcpx = await startMcpx(config);

    const [direct, viaMcpx] = await Promise.all([suite(`http://127.0.0.1:${port}/mcp`), suite(mcpx.url)]);
    console.log(`conformance suite: direct ${line(direct.scenarios)}; through mcpx ${line(viaMcpx.scenarios)}`);

    // The suite ran (a CLI that failed to load has no summary), and the fixture does its part.
    expect(direct.scenarios.size, direct.output).toBeGreaterThanOrEqual(30);
    expect(passing(direct.scenarios).length, direct.output).toBeGreaterThanOrEqual(direct.scenarios.size - 1);
    const expected = [...new Set([...passing(direct.scenarios), 'dns-rebinding-protection'])].sort();
    const missing = expected.filter((name) => !viaMcpx.scenarios.get(name)?.ok);
    const summary = viaMcpx.output.slice(viaMcpx.output.indexOf('=== SUMMARY ==='));
    expect(missing, `scenarios failing through mcpx only (run one with --scenario NAME --verbose):\n${summary}\nmcpx stderr:\n${mcpx.stderr()}`).toEqual([]);

    await Promise.all([stopAll(), (mcpx.proc.kill('SIGTERM'), mcpx.exited)]);
    await waitFor(() => processesWith(mark).length === 0, 5000, 'the fixture servers to be gone');
  }, 180_000); // two runs of the suite's CLI at once, each loading a large bundle, on 2 cores
});
