#!/usr/bin/env node
// Thin launcher: runs the CLI and is the only place that sets the exit code.
import { run } from '../dist/cli/main.js';

const code = await run(process.argv);
process.exitCode = code;
// Once run() has returned nothing should keep mcpx alive. If something still does (after a forced
// stop of serve: a handle its children left behind), leave anyway instead of keeping the client
// that stopped us waiting; the timer is unref'd, so a clean exit never waits for it.
setTimeout(() => process.exit(), 500).unref();
