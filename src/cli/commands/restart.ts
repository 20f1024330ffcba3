import type { Command } from 'commander';
import type { ControlResult } from '../../app/control.js';

interface RestartFlags {
  config?: string;
  json?: boolean;
}

export function registerRestart(program: Command): Command {
  return program
    .command('restart')
    .description('restart one child in every running `mcpx serve` of the config (like reconnecting that server in Claude Code)')
    .argument('<name>', 'the server, as named in mcpx.json')
    .option('-c, --config <file>', 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)')
    .option('--json', 'print the outcome per instance as JSON')
    .action(async (name: string, flags: RestartFlags) => {
      const { restartServer, controlFailure } = await import('../../app/control.js');
      const result = await restartServer(name, { config: flags.config });
      process.stdout.write(flags.json ? JSON.stringify(result, null, 2) + '\n' : render(result));
      const failure = controlFailure(result, `restart ${name}`);
      if (failure) throw failure;
    });
}

function render(r: ControlResult): string {
  return r.instances
    .map((i) => {
      const pid = i.detail?.pid;
      return i.ok ? `pid ${i.pid}: ${r.server} ${String(i.detail?.state)}${pid ? ` (pid ${String(pid)})` : ''}\n` : `pid ${i.pid}: ${i.error}\n`;
    })
    .join('');
}
