import type { Command } from 'commander';

/**
 * `mcpx trust [FILE]`, `mcpx trust --list`, `mcpx untrust [FILE]`: the user's approval of a project
 * config (./mcpx.json by default), recorded against its content hash (see config/trust.ts).
 * The result goes to stdout (`--json`: the plain object); exit 0, or 2 for a usage error.
 */
interface TrustFlags {
  list?: boolean;
  json?: boolean;
}

export function registerTrust(program: Command): Command {
  return program
    .command('trust [file]')
    .description("let mcpx use a project's mcpx.json (default ./mcpx.json) and the .env beside it as they are now; an edit needs trusting again")
    .option('--list', 'show the trusted files, and whether each still matches')
    .option('--json', 'print the result as JSON')
    .action(async (file: string | undefined, flags: TrustFlags) => {
      const trust = await import('../../config/trust.js');
      if (flags.list) {
        if (file) throw await usage('--list takes no file', 'run `mcpx trust --list` alone');
        const files = trust.listTrusted();
        if (flags.json) return print({ store: trust.trustStoreFile(), files });
        const { table } = await import('../style.js');
        if (!files.length) return void process.stdout.write('no trusted project configs\n');
        process.stdout.write(table([['STATE', 'TRUSTED AT', 'FILE'], ...files.map((f) => [f.state, f.trustedAt, f.file])]));
        return;
      }
      const record = trust.trustFile(await existing(file));
      if (flags.json) return print(record);
      const env = record.env.sha256 ? `and ${record.env.file} (sha256 ${record.env.sha256.slice(0, 12)}…)` : `(no ${record.env.file}: one added later is an edit too)`;
      const lines = [`trusted ${record.file} (sha256 ${record.sha256.slice(0, 12)}…) ${env}; an edit needs \`mcpx trust\` again`];
      if (!record.servers) lines.push('  (not valid JSON: mcpx will say where when it loads it)');
      for (const s of record.servers ?? []) lines.push(`  ${s.server}: ${s.runs}`);
      process.stdout.write(lines.join('\n') + '\n');
    });
}

export function registerUntrust(program: Command): Command {
  return program
    .command('untrust [file]')
    .description('forget the trust given to a project mcpx.json (default ./mcpx.json)')
    .option('--json', 'print the result as JSON')
    .action(async (file: string | undefined, flags: { json?: boolean }) => {
      const { trustKey, untrustFile } = await import('../../config/trust.js');
      const { resolve } = await import('node:path');
      const target = trustKey(resolve(file ?? 'mcpx.json')); // a deleted file can still be untrusted
      const removed = untrustFile(target);
      if (flags.json) return print({ file: target, removed });
      process.stdout.write(removed ? `untrusted ${target}\n` : `${target} was not trusted; nothing to do\n`);
    });
}

function print(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

async function existing(file: string | undefined): Promise<string> {
  const { existsSync, statSync } = await import('node:fs');
  const { resolve } = await import('node:path');
  const target = resolve(file ?? 'mcpx.json');
  if (!existsSync(target) || !statSync(target).isFile()) {
    throw await usage(
      file ? `${target} does not exist (or is not a file)` : `no mcpx.json in ${process.cwd()}`,
      file ? 'give the path of a project mcpx.json' : 'run it in the project folder, or give the file: mcpx trust path/to/mcpx.json',
    );
  }
  return target;
}

async function usage(message: string, suggestion: string): Promise<Error> {
  const { McpxError } = await import('../../errors.js');
  return new McpxError(message, { code: 'USAGE', suggestion });
}
