import type { Command } from 'commander';
import type { Selection } from '../config/types.js';

/**
 * `--tags` and `--only`, the same on serve, doctor, tools and call: which servers of the config this
 * run uses. The filtering itself happens once, in loadConfig (config/select.ts).
 */
export interface SelectionFlags {
  tags?: string;
  only?: string;
}

export function withSelection(cmd: Command): Command {
  return cmd
    .option('--tags <tags>', 'only the servers carrying one of these tags (comma-separated)')
    .option('--only <names>', 'only these servers (comma-separated)');
}

export async function selectionOf(flags: SelectionFlags): Promise<Selection | undefined> {
  if (flags.tags === undefined && flags.only === undefined) return undefined;
  const { parseNameList } = await import('../config/select.js');
  return {
    tags: flags.tags === undefined ? undefined : parseNameList('--tags', flags.tags),
    only: flags.only === undefined ? undefined : parseNameList('--only', flags.only),
  };
}
