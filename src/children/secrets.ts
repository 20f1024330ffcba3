import type { ServerConfig } from '../config/types.js';
import { McpxError } from '../errors.js';
import { canonicalJson, sha256 } from '../util/canonical.js';
import { log } from '../util/log.js';
import { loadExeca } from './stdio.js';

/**
 * Values from a secret manager instead of a file: `${cmd:op read op://dev/notion/token}` runs the
 * command without a shell (`${sh:…}` asks for one), once at each start of the child, with a 10 s
 * timeout. The trimmed output is kept in memory only and is a secret from then on. A failing command
 * is an error naming the server and the field, never echoing what the command printed.
 */
const TIMEOUT_MS = 10_000;

export function hasSecretCommands(c: ServerConfig): boolean {
  return c.secretCommands.length > 0;
}

/**
 * The config with every `${cmd:…}` / `${sh:…}` replaced by its command's output, and its fingerprint
 * redone. Only the commands normalize found in the config file's text run (never text that came from
 * a variable's value), and each value is rebuilt by joining its parts: the output goes in byte for byte.
 */
export async function resolveSecretCommands(c: ServerConfig): Promise<ServerConfig> {
  if (!hasSecretCommands(c)) return c;
  const results = new Map<string, Promise<string>>(); // the same command used twice runs once
  const env = { ...c.env };
  const headers = { ...c.headers };
  const args = [...c.args];
  const oauth = c.oauth && { ...c.oauth };
  await Promise.all(
    c.secretCommands.map(async ({ field, key, parts }) => {
      const where = field === 'args' ? `args[${key}]` : `${field}.${key}`; // oauth.clientSecret too
      const pieces = parts.map((p) => {
        if (typeof p === 'string') return p;
        if (!results.has(p.text)) results.set(p.text, run(p.run, p.command, c.name, where, c.cwd));
        return results.get(p.text)!;
      });
      const value = (await Promise.all(pieces)).join('');
      if (field === 'args') args[Number(key)] = value;
      else if (field === 'oauth') oauth!.clientSecret = value;
      else (field === 'env' ? env : headers)[key] = value;
    }),
  );
  const credentialFingerprint = oauth ? sha256(canonicalJson(env), canonicalJson(headers), canonicalJson(oauth)) : sha256(canonicalJson(env), canonicalJson(headers));
  return { ...c, env, headers, args, oauth, credentialFingerprint };
}

async function run(kind: 'cmd' | 'sh', command: string, server: string, field: string, cwd?: string): Promise<string> {
  const { execa, parseCommandString } = await loadExeca();
  try {
    const r =
      kind === 'sh'
        ? await execa(command, { shell: true, cwd, timeout: TIMEOUT_MS, stdin: 'ignore' })
        : await execa(parseCommandString(command)[0]!, parseCommandString(command).slice(1), { cwd, timeout: TIMEOUT_MS, stdin: 'ignore' });
    const value = r.stdout.trim();
    if (!value) throw new Error('printed nothing');
    log.addSecret(value);
    return value;
  } catch (e) {
    const x = e as { timedOut?: boolean; exitCode?: number; code?: string; message?: string };
    const why = x.timedOut
      ? `timed out after ${TIMEOUT_MS / 1000} s`
      : x.code === 'ENOENT'
        ? `command not found: ${parseCommandString(command)[0]}`
        : x.exitCode !== undefined
          ? `exited with code ${x.exitCode}`
          : (x.message ?? 'failed');
    throw new McpxError(`server "${server}": the secret command for ${field} failed (${why})`, {
      code: 'CHILD_START', server, field, suggestion: 'run the command by hand to see its message (mcpx does not show its output: it may hold a secret)',
    });
  }
}
