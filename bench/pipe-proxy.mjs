#!/usr/bin/env node
// The floor of any proxy that is a process of its own: spawns the command in its arguments and copies
// bytes both ways without reading them (no parse, no framing, no SDK). bench/floor.mjs puts it beside
// the direct child and mcpx, to show what the second pipe hop alone costs on this machine.
import { spawn } from 'node:child_process';

const [command, ...args] = process.argv.slice(2);
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
process.stdin.pipe(child.stdin);
child.stdout.pipe(process.stdout);
child.on('exit', (code) => process.exit(code ?? 0));
process.stdin.on('end', () => child.stdin.end());
