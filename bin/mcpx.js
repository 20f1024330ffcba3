#!/usr/bin/env node
// Thin launcher: runs the CLI and is the only place that sets the exit code.
import { run } from '../dist/cli/main.js';

const code = await run(process.argv);
process.exitCode = code;
