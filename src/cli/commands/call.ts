import type { Command } from 'commander';
import type { CallResult } from '../../app/tools.js';
import { selectionOf, withSelection, type SelectionFlags } from '../selection.js';

interface CallFlags extends SelectionFlags {
  config?: string;
  json?: boolean;
}

export function registerCall(program: Command): Command {
  return withSelection(program
    .command('call')
    .description('call one tool through the whole pipeline, as Claude Code would (cache, deadlines, fallbacks)')
    .argument('<tool>', 'the tool: alpha__echo, or mcp__mcpx__alpha__echo')
    .argument('[json_args]', 'its arguments as a JSON object', '{}')
    .option('-c, --config <file>', 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)')
    .option('--json', 'print the raw result object'))
    .action(async (tool: string, jsonArgs: string, flags: CallFlags) => {
      const { callTool, parseArguments } = await import('../../app/tools.js');
      const { log } = await import('../../util/log.js');
      // Children's start-up chatter would drown the answer; what matters is reported below (--debug shows it).
      if (log.level !== 'debug') log.level = 'silent';
      const { checkFailed } = await import('../../errors.js');
      const { onInterrupt } = await import('../style.js');
      const args = parseArguments(jsonArgs);
      const controller = new AbortController();
      const off = onInterrupt(() => controller.abort());
      let r: CallResult;
      try {
        r = await callTool({ config: flags.config, select: await selectionOf(flags), tool, args, signal: controller.signal });
      } finally {
        off();
      }
      process.stdout.write(flags.json ? JSON.stringify(r.result, null, 2) + '\n' : render(r));
      if (r.result.isError) {
        throw Object.assign(checkFailed(`${r.name}: the tool answered with isError`), { server: r.server });
      }
    });
}

/** Text content as text; anything else as a one-line summary (or its JSON for structured content). */
function render(r: CallResult): string {
  const out: string[] = [];
  for (const item of r.result.content ?? []) {
    if (item.type === 'text') out.push(item.text);
    else if (item.type === 'image' || item.type === 'audio') out.push(`[${item.type} ${item.mimeType}, ${Math.round((item.data.length * 3) / 4)} bytes]`);
    else if (item.type === 'resource') out.push('text' in item.resource ? String(item.resource.text) : `[resource ${item.resource.uri}]`);
    else if (item.type === 'resource_link') out.push(`[resource link ${item.uri}]`);
    else out.push(JSON.stringify(item));
  }
  if (!out.length && r.result.structuredContent !== undefined) out.push(JSON.stringify(r.result.structuredContent, null, 2));
  return out.length ? out.join('\n') + '\n' : '';
}
