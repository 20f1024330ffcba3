#!/usr/bin/env node
// Thin launcher: runs the CLI and is the only place that sets the exit code.
import v8 from 'node:v8';

// Keep V8's young generation at its first size (1 MB semi-spaces) instead of letting it grow to 16 MB:
// a serve process makes many small short-lived objects per message, and the grown young generation
// was the whole gap between mcpx's peak RSS and one SDK server's (BENCHMARKS.md, "memory"). Only a
// runtime flag can do this from here (node reads --max-semi-space-size from its command line alone),
// and a semi-space flag of the user's own (NODE_OPTIONS) wins.
if (!/semi-space/.test(`${process.env.NODE_OPTIONS ?? ''} ${process.execArgv.join(' ')}`)) {
  v8.setFlagsFromString('--semi-space-growth-factor=1');
}
const { run } = await import('../dist/cli/main.js');

const code = await run(process.argv);
process.exitCode = code;
// Once run() has returned nothing should keep mcpx alive. If something still does (after a forced
// stop of serve: a handle its children left behind), leave anyway instead of keeping the client
// that stopped us waiting; the timer is unref'd, so a clean exit never waits for it.
setTimeout(() => process.exit(), 500).unref();
