import type { Command } from 'commander';
import type { ControlResult } from '../../app/control.js';

interface ReloadFlags {
  config?: string;
  json?: boolean;
}

export function registerReload(program: Command): Command {
  return program
    .command('reload')
    .description('apply the config file now in every running `mcpx serve` of it (without waiting for the file watcher)')
    .option('-c, --config <file>', 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)')
    .option('--json', 'print the outcome per instance as JSON')
    .action(async (flags: ReloadFlags) => {
      const { reloadConfig, controlFailure } = await import('../../app/control.js');
      const result = await reloadConfig({ config: flags.config });
      process.stdout.write(flags.json ? JSON.stringify(result, null, 2) + '\n' : render(result));
      const failure = controlFailure(result, 'reload');
      if (failure) throw failure;
    });
}

function render(r: ControlResult): string {
  return r.instances
    .map((i) => {
      if (!i.ok) return `pid ${i.pid}: ${i.error}\n`;
      const s = i.detail?.summary as Record<string, string[]> | null | undefined;
      const parts = s ? ['added', 'removed', 'restarted', 'updated'].filter((k) => s[k]?.length).map((k) => `${k} ${s[k]!.join(', ')}`) : [];
      return `pid ${i.pid}: ${parts.join('; ') || 'nothing changed'}\n`;
    })
    .join('');
}
