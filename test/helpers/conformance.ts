// The MCP conformance suite's CLI (devDependency @modelcontextprotocol/conformance) for tests: long-running
// servers to test (stopped after each test), one scenario, or the whole server suite with its tally.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { execa } from 'execa';
import { ROOT, tempDir } from './mcpx.js';

const CONFORMANCE = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
// The suite is built for Node 22; on Node 20 it needs one missing export (see the fixture).
const NODE20 = Number(process.versions.node.split('.')[0]) < 22 ? ['--import', join(ROOT, 'test/fixtures/conformance/node20.mjs')] : [];

/** Processes for one test file: `start` resolves with the first match of `ready` in the output; each is stopped (SIGTERM) after each test. */
export function processes(afterEach: (fn: () => Promise<void>) => void) {
  const running: ChildProcess[] = [];
  const stopAll = () => Promise.all(running.splice(0).map(stop)).then(() => undefined);
  afterEach(stopAll);
  return {
    stopAll,
    start(args: string[], ready: RegExp, env: Record<string, string> = {}): Promise<RegExpMatchArray> {
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
    },
  };
}

function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}

function runSuite(url: string, extra: string[]) {
  return execa(process.execPath, [...NODE20, CONFORMANCE, 'server', '--url', url, ...extra], { cwd: tempDir(), reject: false, env: { NO_COLOR: '1' } });
}

/** Runs one scenario; its verdict line ("Passed: 1/1, 0 failed") and exit code. */
export async function scenario(url: string, name: string): Promise<{ passed: string; exitCode: number | undefined; output: string }> {
  const r = await runSuite(url, ['--scenario', name]);
  const output = r.stdout + r.stderr;
  return { passed: /Passed: (\d+\/\d+)/.exec(output)?.[1] ?? 'no verdict', exitCode: r.exitCode, output };
}

/** Runs every scenario of the active server suite: each one's "✓/✗ name: N passed, M failed" summary line, and the output. */
export async function suite(url: string): Promise<{ scenarios: Map<string, { ok: boolean; passed: number; failed: number }>; output: string }> {
  const r = await runSuite(url, []);
  const output = r.stdout + r.stderr;
  const scenarios = new Map<string, { ok: boolean; passed: number; failed: number }>();
  for (const m of output.matchAll(/^([✓✗]) (\S+): (\d+) passed, (\d+) failed$/gm)) scenarios.set(m[2]!, { ok: m[1] === '✓', passed: Number(m[3]), failed: Number(m[4]) });
  return { scenarios, output };
}
