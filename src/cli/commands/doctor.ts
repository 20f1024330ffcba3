import type { Command } from 'commander';
import type { ChalkInstance } from 'chalk';
import type { Check, DoctorReport, ServerReport, Verdict } from '../../app/doctor.js';
import { selectionOf, withSelection, type SelectionFlags } from '../selection.js';

interface DoctorFlags extends SelectionFlags {
  config?: string;
  server?: string;
  json?: boolean;
  timeout: string;
  color?: boolean;
}

export function registerDoctor(program: Command): Command {
  return withSelection(program
    .command('doctor')
    .description('check the config, variables, each server (start, lists, names), the cache database, Redis (when used) and running serve processes')
    .option('-c, --config <file>', 'config file (default: $MCPX_CONFIG, ./mcpx.json, ~/.config/mcpx/mcpx.json)')
    .option('--server <name>', 'check only this server')
    .option('--timeout <duration>', "bound on each server's check", '20s')
    .option('--json', 'print the report as one JSON document')
    .option('--no-color', 'no colours (also: NO_COLOR=1)'))
    .action(async (flags: DoctorFlags) => {
      const { McpxError, checkFailed } = await import('../../errors.js');
      const { parseDuration } = await import('../../util/duration.js');
      const { log } = await import('../../util/log.js');
      const timeoutMs = parseDuration(flags.timeout);
      if (!timeoutMs) {
        throw new McpxError(`--timeout: "${flags.timeout}" is not a duration`, { code: 'USAGE', suggestion: 'use e.g. 20s, 1m or 5000 (ms)' });
      }
      // Doctor reports what children do; their warnings on stderr would only repeat it.
      if (log.level !== 'debug') log.level = 'silent';

      const { doctor } = await import('../../app/doctor.js');
      // A terminal of 0 columns (some ptys, `script`) makes ora's redraw run away: plain output there.
      const spinner = !flags.json && process.stderr.isTTY && (process.stderr.columns ?? 0) > 0 ? await startSpinner() : undefined;
      const running = new Set<string>();
      let report: DoctorReport;
      try {
        report = await doctor({
          config: flags.config,
          server: flags.server,
          select: await selectionOf(flags),
          timeoutMs,
          onProgress: (e) => {
            if (e.phase === 'start') running.add(e.server);
            else running.delete(e.server);
            if (spinner) spinner.text = running.size ? `checking ${[...running].join(', ')}…` : 'checking the cache…';
          },
        });
      } finally {
        spinner?.stop();
      }

      if (flags.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      if (report.exitCode === 2) {
        const e = report.config.error ?? {};
        throw new McpxError(String(e.message ?? 'config error'), {
          code: (e.code as 'CONFIG_INVALID') ?? 'CONFIG_INVALID',
          file: e.file as string | undefined,
          server: e.server as string | undefined,
          field: e.field as string | undefined,
          suggestion: e.suggestion as string | undefined,
          exitCode: 2,
        });
      }
      if (!flags.json) {
        const { colours } = await import('../style.js');
        process.stdout.write(render(report, colours(process.stdout, flags)));
      }
      if (report.exitCode !== 0) {
        const bad = report.servers.filter((s) => s.status === 'failing' || s.status === 'degraded').map((s) => `${s.name} ${s.status}`);
        if (report.cache?.checks.some((c) => c.verdict === 'fail')) bad.push('cache database failing');
        if (report.redis?.checks.some((c) => c.verdict === 'fail')) bad.push('Redis not answering');
        const waiting = report.config.waitingForTrust;
        if (waiting) bad.unshift(`${waiting.file} is not trusted`);
        const err = checkFailed(`doctor: ${bad.join(', ')}`);
        const look = flags.json ? 'see "servers" and "cache" in the JSON report' : 'see the FAIL and WARN lines above';
        throw Object.assign(err, { suggestion: waiting ? waiting.suggestion : look });
      }
    });
}

async function startSpinner() {
  const { default: ora } = await import('ora');
  return ora({ text: 'checking the config…', stream: process.stderr }).start();
}

const TAG: Record<Verdict, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP', info: 'NOTE' };

function render(r: DoctorReport, c: ChalkInstance): string {
  const colour: Record<Verdict, (s: string) => string> = { pass: c.green, warn: c.yellow, fail: c.red, skip: c.gray, info: c.cyan };
  const lines: string[] = [];
  const line = (ch: Check, indent = '  '): void => {
    lines.push(`${indent}${colour[ch.verdict](TAG[ch.verdict])}  ${ch.message}`);
    if (ch.hint && ch.verdict !== 'pass') lines.push(`${indent}      ${c.dim('hint: ' + ch.hint)}`);
  };

  lines.push(c.bold('Config'));
  r.config.checks.forEach((ch) => line(ch));

  if (r.variables.length) {
    lines.push(c.bold('Variables'));
    for (const v of r.variables) {
      const what =
        v.state === 'set' ? `set (****, ${v.length} chars)` :
        v.state === 'default' ? 'not set: its default is used' :
        v.state === 'empty' ? 'set but empty' : 'NOT SET, and no default';
      line({ verdict: v.verdict, message: `${v.server}: ${v.name} ${what}` });
    }
  }

  lines.push(c.bold('Servers'));
  if (!r.servers.length) lines.push(`  ${c.gray('(none configured)')}`);
  for (const s of r.servers) {
    lines.push(`  ${c.bold(s.name)}  ${statusWord(s, c)}  ${c.dim(s.target)}`);
    s.checks.forEach((ch) => line(ch, '    '));
  }

  if (r.cache) {
    lines.push(c.bold('Cache database'));
    r.cache.checks.forEach((ch) => line(ch));
  }
  if (r.redis) {
    lines.push(c.bold('Shared cache (Redis)'));
    r.redis.checks.forEach((ch) => line(ch));
  }
  if (r.instances) {
    lines.push(c.bold('Running instances'));
    r.instances.checks.forEach((ch) => line(ch));
  }

  const { healthy, degraded, failing, skipped } = r.summary;
  const summary = `${healthy} healthy, ${degraded} degraded, ${failing} failing${skipped ? `, ${skipped} skipped` : ''}`;
  lines.push('', failing ? c.red(summary) : degraded ? c.yellow(summary) : c.green(summary));
  return lines.join('\n') + '\n';
}

function statusWord(s: ServerReport, c: ChalkInstance): string {
  switch (s.status) {
    case 'healthy': return c.green('healthy');
    case 'degraded': return c.yellow('degraded');
    case 'failing': return c.red('failing');
    default: return c.gray('skipped');
  }
}
