import type { Command } from 'commander';
import type { AuditReport } from '../../app/audit.js';

interface AuditFlags {
  config?: string;
  since?: string;
  server?: string;
  outcome?: string;
  limit?: string;
  json?: boolean;
}

export function registerAudit(program: Command): Command {
  return program
    .command('audit')
    .description('the audit trail: every tool call, resource read and prompt through mcpx, newest first')
    .option('-c, --config <file>', 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)')
    .option('--since <duration>', 'only records newer than this ("30m", "1h", "2d")')
    .option('--server <name>', 'only this server')
    .option('--outcome <outcome>', 'only this outcome: ok, error, timeout, breaker-open, quota, stale, hit, fallback, child-down, queue-full, cancelled')
    .option('--limit <n>', 'at most this many records', '50')
    .option('--json', 'print the records as JSON')
    .action(async (flags: AuditFlags) => {
      const { collectAudit } = await import('../../app/audit.js');
      const report = collectAudit({ config: flags.config, since: flags.since, server: flags.server, outcome: flags.outcome, limit: flags.limit });
      if (flags.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else process.stdout.write(await render(report));
    });
}

async function render(r: AuditReport): Promise<string> {
  if (!r.exists) return `no audit records yet: ${r.file} does not exist (serve creates it and records as it runs)\n`;
  if (!r.records.length) return `no audit records${r.filter.since || r.filter.server || r.filter.outcome ? ' matching the filter' : ''} in ${r.file}\n`;
  const { table } = await import('../style.js');
  const { formatDuration } = await import('../../util/duration.js');
  // Who called shows only when someone is named (HTTP callers by token name; stdio has none).
  const callers = r.records.some((a) => a.caller);
  // Answers cut to the output budget: tokens the client got first / the answer's tokens.
  const cuts = r.records.some((a) => a.cutTokens !== null);
  const rows = [
    ['TIME (UTC)', ...(callers ? ['CALLER'] : []), 'SERVER', 'KIND', 'NAME', 'OUTCOME', 'DURATION', 'BYTES', ...(cuts ? ['CUT (TOKENS)'] : []), 'ARGS', 'ERROR'],
    ...r.records.map((a) => [
      a.at.replace('T', ' ').replace('Z', ''),
      ...(callers ? [a.caller ?? '-'] : []),
      a.server,
      a.kind,
      a.name,
      a.outcome,
      formatDuration(a.durationMs),
      a.resultBytes === null ? '-' : String(a.resultBytes),
      ...(cuts ? [a.cutTokens === null ? '-' : `${a.cutKeptTokens}/${a.cutTokens}`] : []),
      a.argsHash ? a.argsHash.slice(0, 12) : a.argsRedacted ? clip(a.argsRedacted, 40) : '-',
      a.error ? clip(a.error, 80) : '',
    ]),
  ];
  return `${r.file}\n` + table(rows) + `${r.records.length} record(s), newest first (at most ${r.filter.limit}; --limit N for more)\n`;
}

function clip(s: string, n: number): string {
  const one = s.replace(/\s+/g, ' ');
  return one.length > n ? one.slice(0, n - 1) + '…' : one;
}
