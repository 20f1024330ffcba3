import type { Command } from 'commander';

export function registerServe(program: Command): Command {
  return program
    .command('serve')
    .description('run the stdio MCP server that aggregates the configured children (register this in .mcp.json)')
    .option('-c, --config <file>', 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)')
    .option('--no-watch', 'do not apply edits of the config file as they are saved (`mcpx reload` applies them)')
    .action(async (opts: { config?: string; watch: boolean }) => {
      const { serve } = await import('../../server/serve.js');
      await serve({ configFlag: opts.config, watch: opts.watch });
    });
}
