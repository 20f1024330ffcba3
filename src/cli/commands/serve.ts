import type { Command } from 'commander';
import { selectionOf, withSelection, type SelectionFlags } from '../selection.js';

export function registerServe(program: Command): Command {
  const cmd = program
    .command('serve')
    .description('run the stdio MCP server that aggregates the configured children (register this in .mcp.json)')
    .option('-c, --config <file>', 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)')
    .option('--no-watch', 'do not apply edits of the config file as they are saved (`mcpx reload` applies them)');
  return withSelection(cmd).action(async (opts: { config?: string; watch: boolean } & SelectionFlags) => {
    const select = await selectionOf(opts);
    // initialize is answered from mcpx's own state while the SDK and the rest of serve load (issue 13).
    const { answerEarly } = await import('../../server/early.js');
    const early = await answerEarly({ configFlag: opts.config, select });
    const { serve } = await import('../../server/serve.js');
    await serve({ configFlag: opts.config, select, watch: opts.watch, early });
  });
}
