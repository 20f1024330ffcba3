import type { Command } from 'commander';
import { selectionOf, withSelection, type SelectionFlags } from '../selection.js';

interface ServeFlags extends SelectionFlags {
  config?: string;
  watch: boolean;
  http?: boolean;
  host?: string;
  port?: string;
  toolSearch?: string;
}

const TOOL_SEARCH_MODES = ['on', 'off', 'auto'] as const;

export function registerServe(program: Command): Command {
  const cmd = program
    .command('serve')
    .description('run the MCP server that aggregates the configured children: over stdio (register this in .mcp.json), or with --http for a team')
    .option('-c, --config <file>', 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)')
    .option('--no-watch', 'do not apply edits of the config file as they are saved (`mcpx reload` applies them)')
    .option('--http', 'serve Streamable HTTP at /mcp (both protocol eras), with /healthz and /metrics, instead of stdio')
    .option('--host <host>', 'with --http: the address to listen on (default: "http.host" of the config, else 127.0.0.1)')
    .option('--port <port>', 'with --http: the port (default: "http.port" of the config, else 8808; 0: any free port)')
    .option('--tool-search <mode>', 'on, off or auto: list only mcpx\'s search tools instead of every child tool (default: "toolSearch" of the config, else auto)');
  return withSelection(cmd).action(async (opts: ServeFlags) => {
    const select = await selectionOf(opts);
    const toolSearch = opts.toolSearch as (typeof TOOL_SEARCH_MODES)[number] | undefined;
    if (toolSearch !== undefined && !TOOL_SEARCH_MODES.includes(toolSearch)) throw await usage(`--tool-search must be on, off or auto, got ${JSON.stringify(opts.toolSearch)}`, 'mcpx serve --tool-search on');
    if (!opts.http) {
      if (opts.host !== undefined || opts.port !== undefined) throw await usage('--host and --port go with --http', 'mcpx serve --http --host 127.0.0.1 --port 8808');
      // initialize is answered from mcpx's own state while the SDK and the rest of serve load.
      const { answerEarly } = await import('../../server/first-answer.js');
      const early = await answerEarly({ configFlag: opts.config, select, toolSearch });
      const { serve } = await import('../../server/serve.js');
      return serve({ configFlag: opts.config, select, watch: opts.watch, early, toolSearch });
    }
    const port = opts.port === undefined ? undefined : Number(opts.port);
    if (port !== undefined && (!/^\d+$/.test(opts.port!) || port > 65535)) throw await usage(`--port must be a port number from 0 to 65535, got ${JSON.stringify(opts.port)}`, 'mcpx serve --http --port 8808');
    const { serveHttp } = await import('../../server/http.js');
    // /metrics prints what `mcpx stats --prometheus` prints.
    const metrics = async (config: string) => {
      const { collectStats, prometheusText } = await import('../../app/stats.js');
      return prometheusText(collectStats({ config }));
    };
    return serveHttp({ configFlag: opts.config, select, watch: opts.watch, host: opts.host, port, metrics, toolSearch });
  });
}

async function usage(message: string, suggestion: string): Promise<Error> {
  const { McpxError } = await import('../../errors.js');
  return new McpxError(message, { code: 'USAGE', suggestion });
}
