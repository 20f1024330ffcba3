import type { Command } from 'commander';
import type { ImportResult } from '../../app/import.js';

interface ImportFlags {
  dryRun?: boolean;
  config?: string;
  json?: boolean;
}

export function registerImport(program: Command): Command {
  return program
    .command('import')
    .description("move the servers of a Claude Code .mcp.json into mcpx.json and leave .mcp.json with the mcpx entry")
    .argument('[path]', 'the .mcp.json to import', '.mcp.json')
    .option('--dry-run', 'print what would change and write nothing')
    .option('-c, --config <file>', 'mcpx.json to write (default: beside the .mcp.json)')
    .option('--json', 'print the result as JSON')
    .action(async (path: string, flags: ImportFlags) => {
      const { importMcpJson } = await import('../../app/import.js');
      const result = importMcpJson({ path, config: flags.config, dryRun: flags.dryRun });
      // Entries left behind are warnings whatever the output format: stderr, names only.
      for (const l of result.left) process.stderr.write(`mcpx: warning: left "${l.name}" in ${result.source}: ${l.reason}\n`);
      for (const w of result.warnings) process.stderr.write(`mcpx: warning: ${w}\n`);
      if (flags.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else await render(result);
    });
}

async function render(r: ImportResult): Promise<void> {
  const { default: c } = await import('chalk');
  const { relative } = await import('node:path');
  const rel = (f: string): string => relative(process.cwd(), f) || f;
  const out = (s: string): boolean => process.stdout.write(s + '\n');
  const would = r.dryRun ? 'would ' : '';
  if (r.dryRun) out(c.yellow('dry run: nothing is written'));
  for (const m of r.moved) out(`${would}move ${c.bold(m.name)} (${m.transport}) → ${rel(r.target)}`);
  for (const n of r.publicScope) out(`${n}: public documentation: its cached answers ${r.dryRun ? 'would be' : 'are'} shared by everyone ("scope": "public")`);
  if (r.caching.length) {
    const which = r.caching.map((x) => `${c.bold(x.name)} (${String(x.cache.ttl)})`).join(', ');
    out(`${would}turn caching on for ${which}: documentation servers, with the TTLs of mcpx's templates (caching is opt-in)`);
  }
  for (const x of r.errorPatterns) out(`${x.name}: its error texts ${r.dryRun ? 'would count' : 'count'} as failures (never cached): the errorPatterns of mcpx's ${x.template} template`);
  for (const n of r.alreadyPresent) out(`${n}: already in ${rel(r.target)} with the same entry; ${would}remove it from ${rel(r.source)}`);
  const VERB = { backup: ['back up the old file to', 'backed up the old file to'], created: ['create', 'created'], updated: ['update', 'updated'] } as const;
  for (const f of r.files) out(`${r.dryRun ? 'would ' + VERB[f.action][0] : VERB[f.action][1]} ${rel(f.file)}`);
  if (!r.files.length) out(`nothing to import from ${rel(r.source)}`);
  else if (!r.dryRun && r.moved.length) out(`next: ${c.bold('mcpx doctor')}`);
}
