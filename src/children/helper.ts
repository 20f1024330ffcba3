import { execa } from 'execa';
import { McpxError, errorMessage } from '../errors.js';
import { log } from '../util/log.js';

/**
 * `headersHelper` (Claude Code's convention): a shell command that prints a JSON object of headers,
 * run at each connect and again after the remote child refused the credentials. Its output is kept
 * in memory only and its values are secrets.
 */
export async function runHeadersHelper(command: string, server: string, cwd?: string): Promise<Record<string, string>> {
  let stdout: string;
  try {
    ({ stdout } = await execa(command, { shell: true, cwd, timeout: 10_000, stdin: 'ignore' }));
  } catch (e) {
    const why = (e as { timedOut?: boolean }).timedOut ? 'timed out after 10 s' : `failed (${(e as { exitCode?: number }).exitCode ?? errorMessage(e)})`;
    // Never echo the helper's output: it may hold a token.
    throw new McpxError(`server "${server}": headersHelper ${why}`, { code: 'CHILD_START', server, field: 'headersHelper' });
  }
  let headers: unknown;
  try {
    headers = JSON.parse(stdout);
  } catch {
    throw new McpxError(`server "${server}": headersHelper did not print a JSON object`, { code: 'CHILD_START', server, field: 'headersHelper' });
  }
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers) || Object.values(headers).some((v) => typeof v !== 'string')) {
    throw new McpxError(`server "${server}": headersHelper must print a JSON object of strings`, { code: 'CHILD_START', server, field: 'headersHelper' });
  }
  for (const v of Object.values(headers as Record<string, string>)) log.addSecret(v);
  return headers as Record<string, string>;
}
