import type { Command } from 'commander';

export function registerStandards(program: Command): Command {
  return program
    .command('standards')
    .description('run the built-in stdio MCP server over folders of team standards (Markdown and YAML)')
    .option('-d, --dir <folder>', 'folder of standards; repeat for several (the first one wins an id)', (dir: string, dirs: string[]) => [...dirs, dir], [] as string[])
    .action(async (opts: { dir: string[] }) => {
      const { runStandardsServer } = await import('../../standards/server.js');
      await runStandardsServer({ dirs: opts.dir });
    });
}
