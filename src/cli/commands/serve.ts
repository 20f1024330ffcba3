import type { Command } from 'commander';

export function registerServe(program: Command): Command {
  return program
    .command('serve')
    .description('run the stdio MCP server that aggregates the configured children (register this in .mcp.json)')
    .option('-c, --config <file>', 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)')
    .action(async (opts: { config?: string }) => {
      const { serve } = await import('../../server/serve.js');
      await serve({ configFlag: opts.config });
    });
}
