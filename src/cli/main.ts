import { Command, CommanderError } from 'commander';
import { isMcpxError } from '../errors.js';
import { log } from '../util/log.js';
import { registerServe } from './commands/serve.js';
import { registerStandards } from './commands/standards.js';
import { registerInit } from './commands/init.js';
import { registerImport } from './commands/import.js';
import { registerCache } from './commands/cache.js';
import { registerDoctor } from './commands/doctor.js';
import { registerTools } from './commands/tools.js';
import { registerCall } from './commands/call.js';
import { registerStats } from './commands/stats.js';
import { registerAudit } from './commands/audit.js';
import { registerTrust, registerUntrust } from './commands/trust.js';
import { registerApprove } from './commands/approve.js';
import { registerLogin } from './commands/login.js';
import { registerPs } from './commands/ps.js';
import { registerReload } from './commands/reload.js';
import { registerRestart } from './commands/restart.js';

/**
 * The commander program. Each command lives in commands/<name>.ts and is registered here; its action
 * loads heavy modules with `await import()` so that `mcpx serve` starts without loading what it does
 * not need. run() never exits the process: it returns the exit code for bin/mcpx.js to set.
 */
export async function run(argv: string[]): Promise<number> {
  const program = new Command('mcpx')
    .description('One stdio MCP server in front of all your MCP servers')
    .version(await version(), '-V, --version')
    .option('--debug', 'verbose logs and stack traces')
    .showHelpAfterError()
    .exitOverride();
  program.hook('preAction', (cmd) => {
    if (cmd.opts().debug) log.level = 'debug';
  });

  for (const register of COMMANDS) register(program);

  try {
    await program.parseAsync(argv);
    return 0; // a command that fails throws (its error carries the exit code); nothing else sets one
  } catch (e) {
    return report(e, argv.includes('--debug'));
  }
}

/** One file per command, each exporting register<Name>(program); keep registration cheap. */
const COMMANDS: ((p: Command) => unknown)[] = [registerServe, registerInit, registerImport, registerStandards, registerCache, registerDoctor, registerTools, registerCall, registerStats, registerAudit, registerTrust, registerUntrust, registerApprove, registerLogin, registerPs, registerReload, registerRestart];

/** One clear line (plus a hint) on stderr; the stack trace only with --debug. */
export function report(e: unknown, debug: boolean): number {
  if (e instanceof CommanderError) {
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0) return 0;
    return 2; // commander already printed the message
  }
  if (isMcpxError(e)) {
    process.stderr.write(`mcpx: ${log.redact(e.message)}\n`);
    if (e.suggestion) process.stderr.write(`  hint: ${e.suggestion}\n`);
    if (debug && e.stack) process.stderr.write(log.redact(e.stack) + '\n');
    return e.exitCode;
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`mcpx: unexpected error: ${log.redact(msg)}\n`);
  if (debug && e instanceof Error && e.stack) process.stderr.write(log.redact(e.stack) + '\n');
  else process.stderr.write('  hint: run again with --debug for the stack trace\n');
  return 1;
}

async function version(): Promise<string> {
  const { readFileSync } = await import('node:fs');
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
