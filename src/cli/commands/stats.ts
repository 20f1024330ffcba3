import type { Command } from 'commander';
import type { StatsReport } from '../../app/stats.js';

interface StatsFlags {
  config?: string;
  json?: boolean;
  prometheus?: boolean;
}

export function registerStats(program: Command): Command {
  return program
    .command('stats')
    .description('per server: calls, errors, timeouts, breaker opens, calls held back by the quota, p50/p95 latency, cache hits and calls saved')
    .option('-c, --config <file>', 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)')
    .option('--json', 'print the numbers as JSON')
    .option('--prometheus', 'print the counters and the latency histogram in Prometheus text format')
    .action(async (flags: StatsFlags) => {
      const { collectStats, prometheusText } = await import('../../app/stats.js');
      const report = collectStats({ config: flags.config });
      if (flags.prometheus) process.stdout.write(prometheusText(report));
      else if (flags.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      else process.stdout.write(await render(report));
    });
}

async function render(r: StatsReport): Promise<string> {
  if (!r.exists) return `no statistics yet: ${r.file} does not exist (serve creates it and records as it runs)\n`;
  if (!r.servers.length) return `no statistics yet in ${r.file} (serve records them as calls go through)\n`;
  const { table } = await import('../style.js');
  const ms = (n: number | null): string => (n === null ? '-' : `${n} ms`);
  const rows = [
    ['SERVER', 'CALLS', 'ERRORS', 'TIMEOUTS', 'BREAKER OPENS', 'QUOTA HELD', 'CUT', 'P50', 'P95', 'HITS', 'STALE', 'MISSES', 'SAVED'],
    ...r.servers.map((s) => [
      s.configured ? s.server : `${s.server} (not in config)`,
      String(s.calls), String(s.errors), String(s.timeouts), String(s.breakerOpens), String(s.quotaHeld), String(s.cuts),
      ms(s.latency.p50Ms), ms(s.latency.p95Ms),
      String(s.hits), String(s.staleHits), String(s.misses),
      s.savedShare === null ? '-' : `${Math.round(s.savedShare * 100)}%`,
    ]),
  ];
  return `${r.file}\n` + table(rows) + 'SAVED: fresh cache hits among cache lookups (calls the child did not have to answer); latencies are histogram bucket bounds; CUT: answers cut to the output budget\n';
}
