import type { Command } from 'commander';
import type { InitResult } from '../../app/init.js';

interface InitFlags {
  with?: string;
  force?: boolean;
  register?: boolean;
  dir?: string;
  json?: boolean;
}

export function registerInit(program: Command): Command {
  return program
    .command('init')
    .description('write mcpx.json and .env.example from the bundled templates, and ignore .env in git')
    .option('--with <names>', 'comma-separated server templates (default: context7,confluence,notion,standards)')
    .option('--force', 'overwrite mcpx.json / .env.example / a different mcpx entry in .mcp.json')
    .option('--register', 'also write the mcpx entry into .mcp.json (other entries are kept)')
    .option('--dir <dir>', 'project directory to write into', '.')
    .option('--json', 'print what was written as JSON')
    .action(async (flags: InitFlags) => {
      const { init } = await import('../../app/init.js');
      const result = init({
        dir: flags.dir ?? '.',
        with: flags.with?.split(',').map((s) => s.trim()).filter(Boolean),
        force: flags.force,
        register: flags.register,
      });
      if (flags.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
      else await render(result);
    });
}

/** Progress on stderr; the .mcp.json snippet (the thing to copy) on stdout. */
async function render(r: InitResult): Promise<void> {
  const { chalkStderr: c } = await import('chalk');
  const { join, relative } = await import('node:path');
  const rel = (f: string): string => relative(process.cwd(), f) || f;
  for (const f of r.files) process.stderr.write(`${c.green(f.action.padEnd(11))} ${rel(f.file)}\n`);
  process.stderr.write(`servers: ${r.servers.join(', ')}\n`);
  if (r.variables.length) {
    process.stderr.write(`variables to set in .env (copy .env.example): ${r.variables.join(', ')}; then run \`mcpx trust\` (it covers .env)\n`);
  }
  if (!r.trusted) process.stderr.write(c.yellow(`${rel(join(r.dir, 'mcpx.json'))} is not trusted yet: a .env is beside it; read both, then run \`mcpx trust\`\n`));
  if (r.mcpJson.registered) {
    process.stderr.write(`mcpx is registered in ${rel(r.mcpJson.file)}\n`);
  } else {
    process.stderr.write(`add this entry to ${rel(r.mcpJson.file)} (or run again with --register):\n`);
    process.stdout.write(JSON.stringify(r.mcpJson.snippet, null, 2) + '\n');
  }
  if (r.mcpJson.otherServers.length) {
    process.stderr.write(
      c.yellow(`${rel(r.mcpJson.file)} also has ${r.mcpJson.otherServers.join(', ')}: run \`mcpx import\` to move them behind mcpx\n`),
    );
  }
  process.stderr.write(`next: ${c.bold('mcpx doctor')}\n`);
}
