import type { Command } from 'commander';
import type { ChalkInstance } from 'chalk';
import type { ToolsResult } from '../../app/tools.js';
import { selectionOf, withSelection, type SelectionFlags } from '../selection.js';

interface ToolsFlags extends SelectionFlags {
  config?: string;
  server?: string;
  json?: boolean;
  color?: boolean;
}

export function registerTools(program: Command): Command {
  return withSelection(program
    .command('tools')
    .description('list the tools as Claude Code sees them (mcp__mcpx__…), with server, read-only and cacheable')
    .option('-c, --config <file>', 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)')
    .option('--server <name>', 'only this server\'s tools')
    .option('--json', 'print the list as JSON')
    .option('--no-color', 'no colours (also: NO_COLOR=1)'))
    .action(async (flags: ToolsFlags) => {
      const { listTools } = await import('../../app/tools.js');
      const { log } = await import('../../util/log.js');
      // Children's start-up chatter would drown the answer; what matters is reported below (--debug shows it).
      if (log.level !== 'debug') log.level = 'silent';
      const { checkFailed } = await import('../../errors.js');
      const { colours } = await import('../style.js');
      const result = await listTools({ config: flags.config, server: flags.server, select: await selectionOf(flags) });
      if (flags.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else process.stdout.write(await render(result, colours(process.stdout, flags)));
      if (result.withheld.length) {
        const held = result.withheld.map((w) => `${w.name} (${w.change})`).join(', ');
        process.stderr.write(`mcpx: warning: withheld until approved (pinTools): ${held}; review with \`mcpx approve --list\`\n`);
      }
      const down = result.servers.filter((s) => s.state === 'down' || s.state === 'misconfigured');
      for (const s of down) process.stderr.write(`mcpx: warning: ${s.name} is not listed: ${s.reason ?? s.state}\n`);
      if (down.length) {
        throw Object.assign(checkFailed(`tools: ${down.map((s) => s.name).join(', ')} could not start; the list is incomplete`), {
          suggestion: 'run `mcpx doctor` for details',
        });
      }
    });
}

async function render(r: ToolsResult, c: ChalkInstance): Promise<string> {
  const { table } = await import('../style.js');
  if (!r.tools.length) return 'no tools\n';
  const rows = [
    ['TOOL', 'SERVER', 'READ-ONLY', 'CACHED', 'DESCRIPTION'],
    ...r.tools.map((t) => [t.claudeName, t.server, t.readOnly ? 'yes' : 'no', t.cacheable ? 'yes' : 'no', t.description]),
  ];
  const text = table(rows);
  const [head, ...rest] = text.split('\n');
  return [c.bold(head!), ...rest].join('\n') + `${r.tools.length} tools\n`;
}
