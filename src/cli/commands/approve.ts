import type { Command } from 'commander';
import type { ChalkInstance } from 'chalk';
import type { ChangeView } from '../../app/approve.js';

interface ApproveFlags {
  config?: string;
  list?: boolean;
  json?: boolean;
  color?: boolean;
}

export function registerApprove(program: Command): Command {
  return program
    .command('approve')
    .description('pinTools: list the tool definitions that changed (or are new) and wait, or accept them for SERVER (or one TOOL)')
    .argument('[server]', 'the server whose waiting tools to accept')
    .argument('[tool]', "only this tool (the server's own name for it)")
    .option('-c, --config <file>', 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)')
    .option('--list', 'show what waits, with the difference (the default without SERVER)')
    .option('--json', 'print the result as JSON')
    .option('--no-color', 'no colours (also: NO_COLOR=1)')
    .action(async (server: string | undefined, tool: string | undefined, flags: ApproveFlags) => {
      const { approveTools, listWaiting } = await import('../../app/approve.js');
      const { colours } = await import('../style.js');
      const c = colours(process.stdout, flags);
      if (flags.list || server === undefined) {
        const list = listWaiting({ config: flags.config, server });
        if (flags.json) process.stdout.write(JSON.stringify(list, null, 2) + '\n');
        else process.stdout.write(renderList(list.waiting, c));
        return;
      }
      const result = approveTools({ config: flags.config, server, tool });
      if (flags.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else {
        const names = result.approved.map((v) => `${v.server}/${v.tool} (${v.change})`).join(', ');
        process.stdout.write(`approved ${names}; running serve processes list ${result.approved.length === 1 ? 'it' : 'them'} again within a second\n`);
      }
    });
}

function renderList(waiting: ChangeView[], c: ChalkInstance): string {
  if (!waiting.length) return 'nothing waits for approval\n';
  const lines: string[] = [];
  const indent = (text: string | undefined, mark: string) => (text ?? '(none)').split('\n').map((l, i) => `    ${i ? ' ' : mark} ${l}`);
  for (const v of waiting) {
    lines.push(`${c.bold(`${v.server}/${v.tool}`)}  ${v.change === 'new' ? c.yellow('new tool') : c.yellow('changed')}${v.seenAt ? c.dim(`  seen ${v.seenAt}`) : ''}`);
    if (v.change === 'new') {
      lines.push('  description:', ...indent(v.description.after, ' '));
    } else if (v.description.changed) {
      lines.push('  description:', ...indent(v.description.before, '-').map((l) => c.red(l)), ...indent(v.description.after, '+').map((l) => c.green(l)));
    } else {
      lines.push('  description: unchanged');
    }
    if (v.change === 'new') lines.push('  input schema: new');
    else if (v.inputSchema.changed) lines.push('  input schema changed:', ...v.inputSchema.differences.map((d) => `    ${d}`));
    else lines.push('  input schema: unchanged');
  }
  const servers = [...new Set(waiting.map((v) => v.server))];
  lines.push('', `${waiting.length} waiting; accept with \`mcpx approve ${servers.length === 1 ? servers[0] : 'SERVER'} [TOOL]\``);
  return lines.join('\n') + '\n';
}
