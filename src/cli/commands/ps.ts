import type { Command } from 'commander';
import type { PsResult } from '../../app/control.js';

interface PsFlags {
  config?: string;
  json?: boolean;
}

export function registerPs(program: Command): Command {
  return program
    .command('ps')
    .description('list the running `mcpx serve` processes: pid, config, uptime, children and their states')
    .option('-c, --config <file>', 'only the instances serving this config file')
    .option('--json', 'print the instances as JSON')
    .action(async (flags: PsFlags) => {
      const { listInstances } = await import('../../app/control.js');
      const { checkFailed } = await import('../../errors.js');
      const result = await listInstances({ config: flags.config });
      process.stdout.write(flags.json ? JSON.stringify(result, null, 2) + '\n' : await render(result));
      if (!result.instances.length) throw checkFailed(`no mcpx serve is running${result.config ? ` with ${result.config}` : ''}`);
    });
}

async function render(r: PsResult): Promise<string> {
  const { table } = await import('../style.js');
  const { formatDuration } = await import('../../util/duration.js');
  const rows = [['PID', 'CONFIG', 'UPTIME', 'CHILDREN']];
  const notes: string[] = [];
  for (const i of r.instances) {
    const children = i.servers.map((s) => `${s.name} ${s.state}${s.pid ? ` (pid ${s.pid})` : ''}`).join(', ');
    rows.push([String(i.pid), i.config, formatDuration(i.uptimeMs), children || '-']);
    for (const s of i.servers) if (s.reason && s.state !== 'ready') notes.push(`pid ${i.pid}: ${s.name}: ${s.reason}`);
    if (i.configError) notes.push(`pid ${i.pid}: last edit of the config refused: ${i.configError.message}`);
  }
  for (const u of r.unreachable) notes.push(`pid ${u.pid}: did not answer (${u.error})`);
  return (r.instances.length ? table(rows) : '') + notes.map((n) => `${n}\n`).join('');
}
